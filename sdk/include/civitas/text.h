// civitas SDK: text checks every module needs for client input.
#ifndef CIVITAS_TEXT_H_
#define CIVITAS_TEXT_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
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

// "" if `value` is valid UTF-8 with min_chars..max_chars code points, else the message for an
// INVALID_ARGUMENT naming `field`:  "article.title must have 1 to 200 characters, got 0".
inline std::string CheckLength(std::string_view field, std::string_view value, size_t min_chars,
                               size_t max_chars) {
  const std::optional<size_t> n = Utf8Length(value);
  if (!n) return std::string(field) + " is not valid UTF-8";
  if (*n < min_chars || *n > max_chars) {
    std::string range = min_chars == 0
                            ? "at most " + std::to_string(max_chars)
                            : std::to_string(min_chars) + " to " + std::to_string(max_chars);
    return std::string(field) + " must have " + range + " characters, got " + std::to_string(*n);
  }
  return "";
}

// A BCP 47 tag of the common shape: a 2-3 letter language, then optional subtags of 2-8 letters
// or digits ("de", "en-GB", "sr-Latn-RS").
inline bool IsLanguageTag(std::string_view tag) {
  size_t start = 0;
  for (int part = 0; start <= tag.size(); ++part) {
    size_t end = tag.find('-', start);
    if (end == std::string_view::npos) end = tag.size();
    std::string_view sub = tag.substr(start, end - start);
    if (part == 0 ? (sub.size() < 2 || sub.size() > 3) : (sub.size() < 2 || sub.size() > 8)) {
      return false;
    }
    for (char c : sub) {
      const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
      if (!(letter || (part > 0 && c >= '0' && c <= '9'))) return false;
    }
    if (part > 4) return false;
    start = end + 1;
    if (end == tag.size()) return true;
  }
  return false;
}

// The primary language subtag, lower-cased: "de-AT" -> "de".
inline std::string PrimaryLanguage(std::string_view tag) {
  std::string out(tag.substr(0, tag.find('-')));
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

namespace internal {
inline bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}
}  // namespace internal

// Removes HTML from text a client sent: every tag (<b>, </p>, <!-- -->, <?x?>) goes, and the
// content of <script> and <style> with it. Block-level tags become line breaks. A '<' that does
// not start a tag ("a < b") stays. Nothing else is changed.
inline std::string StripHtml(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    const char c = in[i];
    const char next = i + 1 < in.size() ? in[i + 1] : '\0';
    const bool tag_start =
        c == '<' && ((next >= 'a' && next <= 'z') || (next >= 'A' && next <= 'Z') || next == '/' ||
                     next == '!' || next == '?');
    if (!tag_start) {
      out.push_back(c);
      ++i;
      continue;
    }
    size_t end = in.find('>', i);
    if (end == std::string_view::npos) {
      break;  // an unterminated tag: drop the rest rather than keep half a tag
    }
    std::string_view tag = in.substr(i + 1, end - i - 1);
    size_t name_end = 0;
    const size_t name_start = tag.empty() || tag[0] != '/' ? 0 : 1;
    name_end = name_start;
    while (name_end < tag.size() && ((tag[name_end] >= 'a' && tag[name_end] <= 'z') ||
                                     (tag[name_end] >= 'A' && tag[name_end] <= 'Z') ||
                                     (tag[name_end] >= '0' && tag[name_end] <= '9'))) {
      ++name_end;
    }
    std::string_view name = tag.substr(name_start, name_end - name_start);
    i = end + 1;
    if (name_start == 0 &&
        (internal::IEquals(name, "script") || internal::IEquals(name, "style"))) {
      // Skip to the matching close tag, case-insensitively.
      const std::string close = "</" + std::string(name);
      size_t j = i;
      while (j < in.size() && !(in[j] == '<' && j + close.size() <= in.size() &&
                                internal::IEquals(in.substr(j, close.size()), close))) {
        ++j;
      }
      size_t close_end = j < in.size() ? in.find('>', j) : std::string_view::npos;
      i = close_end == std::string_view::npos ? in.size() : close_end + 1;
      continue;
    }
    for (std::string_view block : {"p", "br", "div", "li", "h1", "h2", "h3", "h4", "tr"}) {
      if (internal::IEquals(name, block)) {
        if (!out.empty() && out.back() != '\n') out.push_back('\n');
        break;
      }
    }
  }
  return out;
}

// Markdown made safe to render: HTML removed (StripHtml) and every link or image target whose
// scheme is not http, https or mailto (javascript:, data:, ...) replaced by "#".
inline std::string SafeMarkdown(std::string_view in) {
  std::string text = StripHtml(in);
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == ']' && i + 1 < text.size() && text[i + 1] == '(') {
      // The target ends at the ')' that balances the '(' (targets may contain parentheses).
      size_t close = std::string::npos;
      for (size_t j = i + 2, depth = 1; j < text.size(); ++j) {
        if (text[j] == '(') ++depth;
        if (text[j] == ')' && --depth == 0) {
          close = j;
          break;
        }
      }
      if (close != std::string::npos) {
        std::string_view target = std::string_view(text).substr(i + 2, close - i - 2);
        while (!target.empty() && (target.front() == ' ' || target.front() == '<')) {
          target.remove_prefix(1);
        }
        const size_t colon = target.find(':');
        const size_t slash = target.find_first_of("/?#");
        bool safe =
            colon == std::string_view::npos || (slash != std::string_view::npos && slash < colon);
        if (!safe) {
          std::string_view scheme = target.substr(0, colon);
          safe = internal::IEquals(scheme, "http") || internal::IEquals(scheme, "https") ||
                 internal::IEquals(scheme, "mailto");
        }
        out += "](";
        out += safe ? std::string(text.substr(i + 2, close - i - 2)) : std::string("#");
        out += ')';
        i = close + 1;
        continue;
      }
    }
    out.push_back(text[i]);
    ++i;
  }
  return out;
}

// Escapes text for XML element content and attribute values; drops characters XML 1.0 forbids.
inline std::string XmlEscape(std::string_view in) {
  std::string out;
  out.reserve(in.size() + 16);
  for (char c : in) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') break;
        out.push_back(c);
    }
  }
  return out;
}

// At most max_chars code points of valid UTF-8 `in`, cut at a word boundary with "…" if cut.
inline std::string TruncateUtf8(std::string_view in, size_t max_chars) {
  size_t chars = 0;
  size_t i = 0;
  while (i < in.size() && chars < max_chars) {
    const unsigned char c = static_cast<unsigned char>(in[i]);
    i += c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    ++chars;
  }
  if (i >= in.size()) return std::string(in);
  size_t cut = in.rfind(' ', i);
  if (cut == std::string_view::npos || cut < i / 2) cut = i;
  return std::string(in.substr(0, cut)) + "\u2026";
}

}  // namespace civitas

#endif  // CIVITAS_TEXT_H_
