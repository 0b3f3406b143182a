// Text inside the SVG files the commands write (charts, plots): the five characters that XML
// gives a meaning are written as entities, so a label can never break the markup.
#pragma once

#include <string>
#include <string_view>

namespace fraudguard {

void AppendXmlEscaped(std::string& out, std::string_view text);

inline std::string XmlEscaped(std::string_view text) {
  std::string out;
  AppendXmlEscaped(out, text);
  return out;
}

}  // namespace fraudguard
