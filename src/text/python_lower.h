// Python's str.lower(), for models whose sentence_bert_config.json says do_lower_case:
// sentence-transformers then lowercases every text in Python before the tokenizer sees it.
// Full lowercase mapping (U+0130 -> "i" U+0307) and the Final_Sigma rule (a capital sigma
// that ends a word becomes U+03C2), which the tokenizer's own lowercasing does not apply.
#pragma once

#include <string>
#include <string_view>

namespace disttune::text {

// Appends the lowercase of `text` (valid UTF-8) to *out.
void python_lower(std::string_view text, std::string* out);

}  // namespace disttune::text
