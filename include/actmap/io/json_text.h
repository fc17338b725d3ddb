// Parsing JSON text from files with errors a person can act on.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace actmap {

// Parses `text`; invalid JSON throws actmap::Error "SOURCE:LINE:COLUMN: invalid JSON: what".
nlohmann::json parse_json_text(const std::string& text, const std::string& source);

// Appends a key or index to a JSON pointer, escaping '~' and '/' as RFC 6901 says.
std::string json_pointer_join(const std::string& pointer, const std::string& key);
std::string json_pointer_join(const std::string& pointer, std::size_t index);

}  // namespace actmap
