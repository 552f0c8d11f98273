// JSON read from files a user hands us (model headers, tokenizer and config files): parsed
// with a nesting limit, and quoted briefly in error messages.
//
// nlohmann parses any depth without recursion, but its dump() and comparisons recurse once
// per level, and its document tree costs tens of bytes per input byte when every byte
// opens an array: a few MB of '[' overflow the stack as soon as a message quotes the value,
// or take gigabytes of memory. Model files nest a handful of levels; the reference
// safetensors implementation (serde_json) stops at 128, and so does this.
#pragma once

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>

namespace disttune {

constexpr int kMaxJsonDepth = 128;

// Thrown by parse_json_limited when the document nests deeper than kMaxJsonDepth.
class JsonTooDeep : public std::runtime_error {
 public:
  JsonTooDeep() : std::runtime_error(str_message()) {}
  static std::string str_message() {
    return "nests deeper than " + std::to_string(kMaxJsonDepth) + " levels";
  }
};

// Json::parse(text) with the nesting limit; throws JsonTooDeep or nlohmann's exceptions.
template <typename Json>
Json parse_json_limited(const std::string& text) {
  return Json::parse(text, [](int depth, typename Json::parse_event_t event, Json&) {
    if (depth >= kMaxJsonDepth && (event == Json::parse_event_t::object_start ||
                                   event == Json::parse_event_t::array_start))
      throw JsonTooDeep();
    return true;
  });
}

// A value for an error message: its JSON text, cut after 60 characters. Only for values of
// documents parsed with the limit (dump() recurses).
template <typename Json>
std::string json_brief(const Json& v) {
  std::string s = v.dump();
  if (s.size() > 60) s = s.substr(0, 60) + "...";
  return s;
}

}  // namespace disttune
