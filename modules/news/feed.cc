#include "feed.h"

#include <expat.h>

#include <algorithm>
#include <cstring>

#include "absl/time/time.h"
#include "civitas/text.h"

namespace news {
namespace {

constexpr char kAtomNs[] = "http://www.w3.org/2005/Atom";

std::string Rfc822(int64_t micros) {
  return absl::FormatTime("%a, %d %b %Y %H:%M:%S +0000", absl::FromUnixMicros(micros),
                          absl::UTCTimeZone());
}

std::string Rfc3339(int64_t micros) {
  return absl::FormatTime(absl::RFC3339_sec, absl::FromUnixMicros(micros), absl::UTCTimeZone());
}

void Element(std::string* out, std::string_view name, std::string_view text) {
  if (text.empty()) return;
  *out += '<';
  *out += name;
  *out += '>';
  *out += civitas::XmlEscape(text);
  *out += "</";
  *out += name;
  *out += ">\n";
}

// Entities HTML feeds commonly put into descriptions (after the XML layer decoded its own).
std::string DecodeHtmlEntities(std::string_view in) {
  static const std::pair<std::string_view, std::string_view> kNamed[] = {
      {"amp", "&"},    {"lt", "<"},     {"gt", ">"},    {"quot", "\""}, {"apos", "'"},
      {"nbsp", " "},   {"auml", "ä"},   {"ouml", "ö"},  {"uuml", "ü"},  {"Auml", "Ä"},
      {"Ouml", "Ö"},   {"Uuml", "Ü"},   {"szlig", "ß"}, {"euro", "€"},  {"ndash", "–"},
      {"mdash", "—"},  {"hellip", "…"}, {"laquo", "«"}, {"raquo", "»"}, {"bdquo", "„"},
      {"ldquo", "“"},  {"rdquo", "”"},  {"lsquo", "‘"}, {"rsquo", "’"}, {"eacute", "é"},
      {"egrave", "è"}, {"copy", "©"},   {"shy", ""}};
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size();) {
    if (in[i] != '&') {
      out.push_back(in[i++]);
      continue;
    }
    size_t semi = in.find(';', i);
    if (semi == std::string_view::npos || semi - i > 10) {
      out.push_back(in[i++]);
      continue;
    }
    std::string_view name = in.substr(i + 1, semi - i - 1);
    bool done = false;
    if (!name.empty() && name[0] == '#') {
      uint32_t cp = 0;
      bool hex = name.size() > 1 && (name[1] == 'x' || name[1] == 'X');
      bool valid = name.size() > (hex ? 2u : 1u);
      for (char c : name.substr(hex ? 2 : 1)) {
        int d = c >= '0' && c <= '9'          ? c - '0'
                : hex && c >= 'a' && c <= 'f' ? c - 'a' + 10
                : hex && c >= 'A' && c <= 'F' ? c - 'A' + 10
                                              : -1;
        if (d < 0 || cp > 0x10FFFF) {
          valid = false;
          break;
        }
        cp = cp * (hex ? 16 : 10) + static_cast<uint32_t>(d);
      }
      if (valid && cp > 0 && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF)) {
        if (cp < 0x80) {
          out.push_back(static_cast<char>(cp));
        } else if (cp < 0x800) {
          out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
          out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else if (cp < 0x10000) {
          out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
          out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
          out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else {
          out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
          out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
          out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
          out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        }
        done = true;
      }
    } else {
      for (const auto& [n, v] : kNamed) {
        if (n == name) {
          out += v;
          done = true;
          break;
        }
      }
    }
    if (done) {
      i = semi + 1;
    } else {
      out.push_back(in[i++]);
    }
  }
  return out;
}

// HTML (or text) from a feed as plain text: tags and entities gone, runs of spaces collapsed,
// at most one blank line between paragraphs.
std::string PlainText(std::string_view html) {
  std::string text = DecodeHtmlEntities(civitas::StripHtml(html));
  std::string out;
  int newlines = 0;
  bool space = false;
  for (char c : text) {
    if (c == '\r') continue;
    if (c == '\n') {
      ++newlines;
      space = false;
      continue;
    }
    if (c == ' ' || c == '\t') {
      space = true;
      continue;
    }
    if (!out.empty()) {
      if (newlines > 0) {
        out += newlines > 1 ? "\n\n" : "\n";
      } else if (space) {
        out += ' ';
      }
    }
    newlines = 0;
    space = false;
    out.push_back(c);
  }
  return out;
}

struct ParseState {
  enum Format { kUnknown, kRss, kAtom } format = kUnknown;
  FeedChannel* channel;
  std::vector<FeedItem>* items;
  std::vector<std::string> stack;  // local names, root first
  int item_depth = -1;             // stack size at which the current item's element opened
  std::string text;                // text of the element being collected
  bool too_many = false;
};

std::string_view LocalName(const char* name, std::string_view* ns) {
  std::string_view n(name);
  size_t sep = n.rfind(' ');
  if (sep == std::string_view::npos) {
    *ns = {};
    return n;
  }
  *ns = n.substr(0, sep);
  return n.substr(sep + 1);
}

const char* Attribute(const char** attrs, std::string_view local) {
  for (int i = 0; attrs[i]; i += 2) {
    std::string_view ns;
    if (LocalName(attrs[i], &ns) == local) return attrs[i + 1];
  }
  return nullptr;
}

constexpr size_t kMaxItems = 1000;

void OnStart(void* data, const char* name, const char** attrs) {
  auto* st = static_cast<ParseState*>(data);
  std::string_view ns;
  std::string_view local = LocalName(name, &ns);
  if (st->stack.empty()) {
    if (local == "rss" || local == "RDF") st->format = ParseState::kRss;
    if (local == "feed" && ns == kAtomNs) st->format = ParseState::kAtom;
    if (const char* lang = Attribute(attrs, "lang")) st->channel->language = lang;
  }
  st->stack.emplace_back(local);
  const size_t depth = st->stack.size();
  const bool is_item = (st->format == ParseState::kRss && local == "item") ||
                       (st->format == ParseState::kAtom && local == "entry" && depth == 2);
  if (is_item && st->item_depth < 0) {
    if (st->items->size() >= kMaxItems) {
      st->too_many = true;
      return;
    }
    st->items->emplace_back();
    st->item_depth = static_cast<int>(depth);
    return;
  }
  const bool in_item = st->item_depth >= 0;
  const bool direct = in_item ? depth == static_cast<size_t>(st->item_depth) + 1
                              : (st->format == ParseState::kAtom ? depth == 2 : depth == 3);
  if (direct) st->text.clear();
  if (st->format != ParseState::kAtom || !direct) return;
  if (local == "link") {
    const char* rel = Attribute(attrs, "rel");
    const char* href = Attribute(attrs, "href");
    if (href && (!rel || std::strcmp(rel, "alternate") == 0)) {
      (in_item ? st->items->back().link : st->channel->link) = href;
    }
  } else if (local == "category" && in_item) {
    if (const char* term = Attribute(attrs, "term")) st->items->back().categories.push_back(term);
  }
}

void OnEnd(void* data, const char*) {
  auto* st = static_cast<ParseState*>(data);
  const size_t depth = st->stack.size();
  const std::string local = st->stack.back();
  st->stack.pop_back();
  if (st->item_depth >= 0 && depth == static_cast<size_t>(st->item_depth)) {
    st->item_depth = -1;
    return;
  }
  const bool in_item = st->item_depth >= 0;
  const bool direct = in_item ? depth == static_cast<size_t>(st->item_depth) + 1
                              : (st->format == ParseState::kAtom ? depth == 2 : depth == 3);
  if (!direct) return;
  std::string text = std::move(st->text);
  st->text.clear();
  if (in_item) {
    FeedItem& item = st->items->back();
    if (local == "title") {
      item.title = PlainText(text);
    } else if (local == "link" && st->format == ParseState::kRss) {
      item.link = PlainText(text);
    } else if (local == "guid" || (local == "id" && st->format == ParseState::kAtom)) {
      item.id = PlainText(text);
    } else if (local == "description" || local == "summary") {
      item.summary = PlainText(text);
    } else if (local == "encoded" || local == "content") {
      item.content = PlainText(text);
    } else if (local == "pubDate" || local == "published" || local == "date") {
      item.published = ParseFeedTime(PlainText(text));
    } else if (local == "updated") {
      item.updated = ParseFeedTime(PlainText(text));
    } else if (local == "category" && st->format == ParseState::kRss) {
      std::string c = PlainText(text);
      if (!c.empty()) item.categories.push_back(c);
    }
    return;
  }
  FeedChannel& ch = *st->channel;
  if (local == "title") {
    ch.title = PlainText(text);
  } else if (local == "link" && st->format == ParseState::kRss) {
    ch.link = PlainText(text);
  } else if (local == "description" || local == "subtitle") {
    ch.description = PlainText(text);
  } else if (local == "language") {
    ch.language = PlainText(text);
  } else if (local == "id") {
    ch.id = PlainText(text);
  }
}

void OnText(void* data, const char* s, int len) {
  auto* st = static_cast<ParseState*>(data);
  if (st->text.size() < (1u << 20)) st->text.append(s, static_cast<size_t>(len));
}

}  // namespace

int64_t ParseFeedTime(std::string_view text) {
  std::string s(text);
  absl::Time t;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, s, &t, &err)) return absl::ToUnixMicros(t);
  // RFC 822: "[Wed, ]02 Oct 2002 13:00[:00] GMT|+0200|EST".
  if (size_t comma = s.find(','); comma != std::string::npos) s = s.substr(comma + 1);
  while (!s.empty() && s.front() == ' ') s.erase(0, 1);
  while (!s.empty() && s.back() == ' ') s.pop_back();
  static const std::pair<const char*, const char*> kZones[] = {
      {"GMT", "+0000"}, {"UTC", "+0000"},  {"UT", "+0000"},  {"Z", "+0000"},
      {"EST", "-0500"}, {"EDT", "-0400"},  {"CST", "-0600"}, {"CDT", "-0500"},
      {"MST", "-0700"}, {"MDT", "-0600"},  {"PST", "-0800"}, {"PDT", "-0700"},
      {"CET", "+0100"}, {"CEST", "+0200"}, {"MEZ", "+0100"}, {"MESZ", "+0200"}};
  if (size_t sp = s.rfind(' '); sp != std::string::npos) {
    std::string zone = s.substr(sp + 1);
    for (const auto& [name, offset] : kZones) {
      if (zone == name) {
        s = s.substr(0, sp + 1) + offset;
        break;
      }
    }
  }
  for (const char* format : {"%d %b %Y %H:%M:%S %z", "%d %b %Y %H:%M %z", "%d %b %y %H:%M:%S %z"}) {
    if (absl::ParseTime(format, s, &t, &err)) return absl::ToUnixMicros(t);
  }
  return 0;
}

std::string RenderRss(const FeedChannel& channel, const std::vector<FeedItem>& items) {
  std::string out =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<rss version=\"2.0\">\n<channel>\n";
  Element(&out, "title", channel.title);
  Element(&out, "link", channel.link);
  Element(&out, "description", channel.description.empty() ? channel.title : channel.description);
  Element(&out, "language", channel.language);
  if (channel.updated) Element(&out, "lastBuildDate", Rfc822(channel.updated));
  Element(&out, "generator", "civitas news");
  for (const FeedItem& item : items) {
    out += "<item>\n";
    Element(&out, "title", item.title);
    Element(&out, "link", item.link);
    out += "<guid isPermaLink=\"false\">" + civitas::XmlEscape(item.id) + "</guid>\n";
    if (item.published) Element(&out, "pubDate", Rfc822(item.published));
    Element(&out, "description", item.summary);
    for (const std::string& c : item.categories) Element(&out, "category", c);
    out += "</item>\n";
  }
  out += "</channel>\n</rss>\n";
  return out;
}

std::string RenderAtom(const FeedChannel& channel, const std::vector<FeedItem>& items) {
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feed xmlns=\"";
  out += kAtomNs;
  out += "\"";
  if (!channel.language.empty())
    out += " xml:lang=\"" + civitas::XmlEscape(channel.language) + "\"";
  out += ">\n";
  Element(&out, "id", channel.id);
  Element(&out, "title", channel.title);
  Element(&out, "subtitle", channel.description);
  out += "<updated>" + Rfc3339(channel.updated) + "</updated>\n";
  if (!channel.link.empty()) {
    out += "<link rel=\"alternate\" href=\"" + civitas::XmlEscape(channel.link) + "\"/>\n";
  }
  out += "<author><name>" +
         civitas::XmlEscape(channel.author.empty() ? channel.title : channel.author) +
         "</name></author>\n";
  out += "<generator>civitas news</generator>\n";
  for (const FeedItem& item : items) {
    out += "<entry>\n";
    Element(&out, "id", item.id);
    Element(&out, "title", item.title);
    out += "<updated>" + Rfc3339(item.updated ? item.updated : item.published) + "</updated>\n";
    if (item.published) out += "<published>" + Rfc3339(item.published) + "</published>\n";
    if (!item.link.empty()) {
      out += "<link rel=\"alternate\" href=\"" + civitas::XmlEscape(item.link) + "\"/>\n";
    }
    if (!item.summary.empty()) {
      out += "<summary type=\"text\">" + civitas::XmlEscape(item.summary) + "</summary>\n";
    }
    for (const std::string& c : item.categories) {
      out += "<category term=\"" + civitas::XmlEscape(c) + "\"/>\n";
    }
    out += "</entry>\n";
  }
  out += "</feed>\n";
  return out;
}

bool ParseFeed(std::string_view document, FeedChannel* channel, std::vector<FeedItem>* items,
               std::string* error) {
  XML_Parser parser = XML_ParserCreateNS(nullptr, ' ');
  if (!parser) {
    *error = "out of memory";
    return false;
  }
  ParseState st;
  st.channel = channel;
  st.items = items;
  XML_SetUserData(parser, &st);
  XML_SetElementHandler(parser, &OnStart, &OnEnd);
  XML_SetCharacterDataHandler(parser, &OnText);
  // Never fetch anything the document points to.
  XML_SetParamEntityParsing(parser, XML_PARAM_ENTITY_PARSING_NEVER);
  const bool ok = XML_Parse(parser, document.data(), static_cast<int>(document.size()), XML_TRUE) ==
                  XML_STATUS_OK;
  if (!ok) {
    *error = std::string("not well-formed XML: ") + XML_ErrorString(XML_GetErrorCode(parser)) +
             " at line " + std::to_string(XML_GetCurrentLineNumber(parser)) + ", column " +
             std::to_string(XML_GetCurrentColumnNumber(parser));
  }
  XML_ParserFree(parser);
  if (!ok) return false;
  if (st.format == ParseState::kUnknown) {
    *error =
        "the document is neither RSS (<rss>, <rdf:RDF>) nor Atom (<feed> in the Atom namespace)";
    return false;
  }
  if (st.too_many) {
    *error = "the feed has more than " + std::to_string(kMaxItems) + " items; split it";
    return false;
  }
  return true;
}

}  // namespace news
