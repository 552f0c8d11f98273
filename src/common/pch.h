// Precompiled header: the heavy, stable headers nearly every translation unit pulls in.
// Keep it to headers that never change with the project's own code.
#pragma once
#include <ATen/ATen.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>
