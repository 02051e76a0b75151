#include "services/gateway/path_template.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

namespace civitas::gateway {

bool PercentDecode(absl::string_view in, bool plus_is_space, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+' && plus_is_space) {
      out->push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int v = 0;
      for (int k = 1; k <= 2; ++k) {
        char h = in[i + k];
        int d = h >= '0' && h <= '9'   ? h - '0'
                : h >= 'a' && h <= 'f' ? h - 'a' + 10
                : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                       : -1;
        if (d < 0) return false;
        v = v * 16 + d;
      }
      out->push_back(static_cast<char>(v));
      i += 2;
    } else {
      out->push_back(c);
    }
  }
  return true;
}

absl::StatusOr<PathTemplate> PathTemplate::Parse(const std::string& text) {
  PathTemplate t;
  t.text_ = text;
  if (text.empty() || text[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat("path template '", text, "' must start with /"));
  }
  std::string rest = text.substr(1);
  // A verb follows the last ':' outside braces.
  int depth = 0;
  size_t verb_at = std::string::npos;
  for (size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] == '{') ++depth;
    if (rest[i] == '}') --depth;
    if (rest[i] == ':' && depth == 0) verb_at = i;
  }
  if (verb_at != std::string::npos) {
    t.verb_ = rest.substr(verb_at + 1);
    rest = rest.substr(0, verb_at);
  }
  auto add_segment = [&](absl::string_view s) -> absl::Status {
    if (s == "*") {
      t.segments_.push_back({Segment::kStar, ""});
    } else if (s == "**") {
      t.segments_.push_back({Segment::kDoubleStar, ""});
    } else if (s.empty() || absl::StrContains(s, "{") || absl::StrContains(s, "}")) {
      return absl::InvalidArgumentError(
          absl::StrCat("path template '", text, "' has a bad segment '", s, "'"));
    } else {
      t.segments_.push_back({Segment::kLiteral, std::string(s)});
    }
    return absl::OkStatus();
  };
  size_t i = 0;
  while (i <= rest.size()) {
    if (i < rest.size() && rest[i] == '{') {
      size_t close = rest.find('}', i);
      if (close == std::string::npos) {
        return absl::InvalidArgumentError(absl::StrCat("path template '", text, "' has an open {"));
      }
      std::string inner = rest.substr(i + 1, close - i - 1);
      std::string field = inner, pattern = "*";
      if (size_t eq = inner.find('='); eq != std::string::npos) {
        field = inner.substr(0, eq);
        pattern = inner.substr(eq + 1);
      }
      Variable v{field, t.segments_.size(), 0};
      for (absl::string_view s : absl::StrSplit(pattern, '/')) {
        if (absl::Status st = add_segment(s); !st.ok()) return st;
      }
      v.end = t.segments_.size();
      t.variables_.push_back(v);
      i = close + 1;
    } else {
      size_t slash = rest.find('/', i);
      if (slash == std::string::npos) slash = rest.size();
      if (slash > i || i < rest.size()) {
        if (absl::Status st = add_segment(rest.substr(i, slash - i)); !st.ok()) return st;
      }
      i = slash;
    }
    if (i >= rest.size()) break;
    if (rest[i] != '/') {
      return absl::InvalidArgumentError(
          absl::StrCat("path template '", text, "': expected '/' at offset ", i + 1));
    }
    ++i;
  }
  for (size_t k = 0; k + 1 < t.segments_.size(); ++k) {
    if (t.segments_[k].kind == Segment::kDoubleStar) {
      return absl::InvalidArgumentError(
          absl::StrCat("path template '", text, "': ** may only be the last segment"));
    }
  }
  return t;
}

bool PathTemplate::Match(const std::string& path,
                         std::map<std::string, std::string>* variables) const {
  if (path.empty() || path[0] != '/') return false;
  std::string rest = path.substr(1);
  if (!verb_.empty()) {
    const std::string suffix = ":" + verb_;
    if (!absl::EndsWith(rest, suffix)) return false;
    rest.resize(rest.size() - suffix.size());
  } else if (size_t colon = rest.rfind(':');
             colon != std::string::npos && rest.find('/', colon) == std::string::npos) {
    return false;  // the request names a verb this template does not have
  }
  std::vector<std::string> parts = absl::StrSplit(rest, '/');
  std::vector<std::string> matched(segments_.size());
  size_t p = 0;
  for (size_t s = 0; s < segments_.size(); ++s) {
    const Segment& seg = segments_[s];
    if (seg.kind == Segment::kDoubleStar) {
      if (p >= parts.size()) return false;
      std::vector<std::string> tail(parts.begin() + static_cast<long>(p), parts.end());
      matched[s] = absl::StrJoin(tail, "/");
      p = parts.size();
      continue;
    }
    if (p >= parts.size() || parts[p].empty()) return false;
    if (seg.kind == Segment::kLiteral && parts[p] != seg.literal) return false;
    matched[s] = parts[p++];
  }
  if (p != parts.size()) return false;
  for (const Variable& v : variables_) {
    std::vector<std::string> pieces;
    for (size_t s = v.begin; s < v.end; ++s) {
      std::string decoded;
      if (!PercentDecode(matched[s], false, &decoded)) return false;
      pieces.push_back(decoded);
    }
    (*variables)[v.field_path] = absl::StrJoin(pieces, "/");
  }
  return true;
}

std::string PathTemplate::OpenApiPath(std::vector<Parameter>* parameters) const {
  std::string out;
  for (size_t s = 0; s < segments_.size(); ++s) {
    out.push_back('/');
    const Segment& seg = segments_[s];
    if (seg.kind == Segment::kLiteral) {
      out += seg.literal;
      continue;
    }
    const Variable* v = nullptr;
    for (const Variable& candidate : variables_) {
      if (s >= candidate.begin && s < candidate.end) v = &candidate;
    }
    std::string name;
    if (v == nullptr) {
      name = absl::StrCat("segment", s);  // a wildcard outside any variable
    } else if (v->end - v->begin == 1) {
      name = v->field_path;
    } else if (s > v->begin && segments_[s - 1].kind == Segment::kLiteral) {
      name = absl::StrCat(segments_[s - 1].literal, "Id");
    } else {
      name = absl::StrCat(v->field_path, s - v->begin);
    }
    absl::StrReplaceAll({{".", "_"}}, &name);
    parameters->push_back({name, v ? v->field_path : ""});
    absl::StrAppend(&out, "{", name, "}");
  }
  if (out.empty()) out = "/";
  if (!verb_.empty()) absl::StrAppend(&out, ":", verb_);
  return out;
}

std::vector<std::string> PathTemplate::LeadingLiterals(size_t max) const {
  std::vector<std::string> out;
  for (const Segment& s : segments_) {
    if (out.size() >= max || s.kind != Segment::kLiteral) break;
    out.push_back(s.literal);
  }
  return out;
}

}  // namespace civitas::gateway
