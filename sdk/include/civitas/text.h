// civitas SDK: text checks every module needs for client input.
#ifndef CIVITAS_TEXT_H_
#define CIVITAS_TEXT_H_

#include <cstddef>
#include <optional>
#include <string_view>

namespace civitas {

// The number of code points in `s`, or nullopt if `s` is not valid UTF-8 (overlong forms,
// surrogates and code points above U+10FFFF are invalid).
inline std::optional<size_t> Utf8Length(std::string_view s) {
  size_t count = 0;
  for (size_t i = 0; i < s.size(); ++count) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t extra;
    char32_t cp;
    if (c < 0x80) {
      extra = 0;
      cp = c;
    } else if (c >= 0xc2 && c <= 0xdf) {
      extra = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return std::nullopt;
    }
    if (extra > s.size() - i - 1) return std::nullopt;
    for (size_t k = 1; k <= extra; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return std::nullopt;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if ((extra == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (extra == 3 && (cp < 0x10000 || cp > 0x10ffff))) {
      return std::nullopt;
    }
    i += extra + 1;
  }
  return count;
}

}  // namespace civitas

#endif  // CIVITAS_TEXT_H_
