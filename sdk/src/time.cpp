#include "rtev/time.hpp"

#include <date/date.h>
#include <date/tz.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "edit_distance.hpp"

namespace rtev::time {
namespace {

using rtev::detail::edit_distance;

using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr std::size_t npos = std::string::npos;

// Where Debian's tzdata (and date/tz built with USE_OS_TZDB) keeps the compiled zones.
// tzdata.zi and zone.tab are only read to tell deprecated links from real zones when
// ranking suggestions; if they are missing every name simply counts as a zone.
constexpr const char* tz_dir = "/usr/share/zoneinfo";

const char* const month_abbrevs[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

const char* const month_names[] = {"January",   "February", "March",    "April",
                                   "May",       "June",     "July",     "August",
                                   "September", "October",  "November", "December"};

// ---------------------------------------------------------------------------------------------
// The zone index: every name in the tz database, sorted, with the time_zone pointer cached so
// a lookup is a binary search instead of date::locate_zone's throw-on-miss. Built once, on
// first use (a function-local static, so thread-safe), and immutable afterwards.

struct zone_entry {
  std::string name;
  std::string lower;     // lowercased name, for suggestions
  std::size_t city = 0;  // where the city part (after the last '/') starts in `lower`
  const date::time_zone* tz = nullptr;
  bool deprecated = false;    // a backward-compatibility link such as Asia/Calcutta
  std::size_t target = npos;  // for deprecated links: index of the zone it points to
};

struct zone_index {
  std::vector<zone_entry> entries;  // sorted by name
  std::vector<std::string> names;   // the same names, for all_zones()
};

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::size_t find_entry(const std::vector<zone_entry>& entries, std::string_view name) {
  auto it = std::lower_bound(
      entries.begin(), entries.end(), name,
      [](const zone_entry& e, std::string_view n) { return std::string_view(e.name) < n; });
  if (it == entries.end() || it->name != name) return npos;
  return static_cast<std::size_t>(it - entries.begin());
}

// Links from tzdata.zi ("L Asia/Kolkata Asia/Calcutta") that are not the zone.tab name of
// any country's zone are deprecated spellings; map each to its target.
std::unordered_map<std::string, std::string> read_deprecated_links() {
  std::unordered_map<std::string, std::string> links;
  std::ifstream zi(std::string(tz_dir) + "/tzdata.zi");
  std::string line;
  while (std::getline(zi, line)) {
    if (line.size() < 3 || line[0] != 'L' || line[1] != ' ') continue;
    const auto space = line.find(' ', 2);
    if (space == npos) continue;
    links.emplace(line.substr(space + 1), line.substr(2, space - 2));
  }

  std::unordered_set<std::string> preferred(common_zones().begin(), common_zones().end());
  std::ifstream tab(std::string(tz_dir) + "/zone.tab");
  while (std::getline(tab, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto first = line.find('\t');
    const auto second = first == npos ? npos : line.find('\t', first + 1);
    if (second == npos) continue;
    const auto third = line.find('\t', second + 1);
    preferred.insert(line.substr(second + 1, third == npos ? npos : third - second - 1));
  }
  for (auto it = links.begin(); it != links.end();) {
    it = preferred.count(it->first) ? links.erase(it) : std::next(it);
  }
  return links;
}

zone_index build_index() {
  zone_index idx;
  for (const auto& z : date::get_tzdb().zones) {
    // With USE_OS_TZDB date lists every file under /usr/share/zoneinfo, including Debian's
    // "localtime" symlink to /etc/localtime, which is a host setting, not an IANA name.
    if (z.name() == "localtime") continue;
    zone_entry e;
    e.name = z.name();
    e.lower = to_lower(e.name);
    const auto slash = e.lower.rfind('/');
    e.city = slash == npos ? 0 : slash + 1;
    e.tz = &z;
    idx.entries.push_back(std::move(e));
  }
  std::sort(idx.entries.begin(), idx.entries.end(),
            [](const zone_entry& a, const zone_entry& b) { return a.name < b.name; });
  idx.entries.erase(
      std::unique(idx.entries.begin(), idx.entries.end(),
                  [](const zone_entry& a, const zone_entry& b) { return a.name == b.name; }),
      idx.entries.end());

  const auto links = read_deprecated_links();
  for (auto& e : idx.entries) {
    auto it = links.find(e.name);
    if (it == links.end()) continue;
    // Follow link chains (bounded, in case of a cycle in a damaged file).
    std::string target = it->second;
    for (int hops = 0; hops < 8; ++hops) {
      auto next = links.find(target);
      if (next == links.end()) break;
      target = next->second;
    }
    const auto t = find_entry(idx.entries, target);
    if (t == npos) continue;
    e.deprecated = true;
    e.target = t;
  }

  idx.names.reserve(idx.entries.size());
  for (const auto& e : idx.entries) idx.names.push_back(e.name);
  return idx;
}

const zone_index& index() {
  static const zone_index idx = build_index();
  return idx;
}

const date::time_zone* find_zone(std::string_view zone) {
  const auto& entries = index().entries;
  const auto i = find_entry(entries, zone);
  return i == npos ? nullptr : entries[i].tz;
}

const date::time_zone& require_zone(std::string_view zone) {
  const auto* tz = find_zone(zone);
  if (tz == nullptr) throw unknown_zone_error(std::string(zone), suggest_zones(zone));
  return *tz;
}

// ---------------------------------------------------------------------------------------------
// Civil (wall-clock) fields.

struct civil {
  long long year = 1970;
  unsigned month = 1, day = 1, hour = 0, minute = 0, second = 0, microsecond = 0;
};

// An instant split into whole seconds (floored, so -0.5 s is -1 s + 500000 us) and the
// microseconds past them. Done by hand because date::floor<seconds> overflows for instants
// within a second of timestamp::min().
struct split_time {
  seconds secs;
  unsigned micro;
};

split_time split(timestamp t) {
  const auto us = t.time_since_epoch().count();
  auto q = us / 1'000'000;
  auto r = us % 1'000'000;
  if (r < 0) {
    r += 1'000'000;
    --q;
  }
  return {seconds(q), static_cast<unsigned>(r)};
}

// Days since 1970-01-01 to a proleptic Gregorian date, for any 64-bit day count (Howard
// Hinnant's civil_from_days; date::year is a 16-bit value and wraps past year 32767).
void civil_from_days(long long z, civil& c) {
  z += 719468;
  const long long era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  c.day = doy - (153 * mp + 2) / 5 + 1;
  c.month = mp < 10 ? mp + 3 : mp - 9;
  c.year = static_cast<long long>(yoe) + era * 400 + (c.month <= 2 ? 1 : 0);
}

// The wall clock `offset` ahead of UTC at instant `t`. Seconds and microseconds are kept
// apart, so instants before 1970 floor correctly (-0.5 s is 23:59:59.5 on Dec 31) and adding
// the offset cannot overflow.
civil to_civil(timestamp t, seconds offset) {
  const auto [secs, micro] = split(t);
  const long long local = secs.count() + offset.count();
  long long days = local / 86400;
  long long tod = local % 86400;
  if (tod < 0) {
    tod += 86400;
    --days;
  }
  civil c;
  civil_from_days(days, c);
  c.hour = static_cast<unsigned>(tod / 3600);
  c.minute = static_cast<unsigned>(tod / 60 % 60);
  c.second = static_cast<unsigned>(tod % 60);
  c.microsecond = micro;
  return c;
}

date::sys_info info_at(const date::time_zone& tz, timestamp t) {
  return tz.get_info(date::sys_seconds{split(t).secs});
}

unsigned hour12(unsigned h) {
  return h % 12 == 0 ? 12 : h % 12;
}
const char* meridiem(unsigned h) {
  return h < 12 ? "AM" : "PM";
}

std::string format_year(long long y) {
  char buf[32];
  // RFC 3339 years are 0000-9999; others are written ISO 8601 style with a sign (-0001,
  // +10000) so that formatting never fails. parse_rfc3339 rejects them.
  if (y < 0) {
    std::snprintf(buf, sizeof buf, "-%04lld", -y);
  } else if (y > 9999) {
    std::snprintf(buf, sizeof buf, "+%lld", y);
  } else {
    std::snprintf(buf, sizeof buf, "%04lld", y);
  }
  return buf;
}

// ---------------------------------------------------------------------------------------------
// RFC 3339 parsing.

constexpr const char* rfc3339_expected =
    "expected an RFC 3339 timestamp like 2024-01-15T10:30:45.123456-05:00, got ";

// The offending text, quoted, shortened and with control bytes escaped so that a message
// never carries a 1 MB payload or a terminal escape sequence.
std::string quote(std::string_view text) {
  constexpr std::size_t max_len = 64;
  std::string out = "'";
  std::size_t n = std::min(text.size(), max_len);
  // Never cut a UTF-8 sequence in half.
  while (n < text.size() && n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (n < text.size()) out += "...";
  out += "'";
  return out;
}

std::string describe_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u < 0x20 || u >= 0x7F) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%02X", u);
    return buf;
  }
  return std::string("'") + c + "'";
}

[[noreturn]] void fail(std::string_view text, const std::string& what) {
  throw parse_error("", rfc3339_expected + quote(text) + " (" + what + ")");
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Reads exactly `count` digits at `pos`, or fails naming `what` ("2-digit month").
unsigned read_digits(std::string_view text, std::size_t pos, std::size_t count, const char* what) {
  unsigned value = 0;
  for (std::size_t i = 0; i < count; ++i) {
    if (pos + i >= text.size()) {
      fail(text, std::string("ends before the ") + what);
    }
    if (!is_digit(text[pos + i])) {
      fail(text, std::string("expected the ") + what + " at position " + std::to_string(pos) +
                     ", found " + describe_char(text[pos + i]));
    }
    value = value * 10 + static_cast<unsigned>(text[pos + i] - '0');
  }
  return value;
}

void expect_char(std::string_view text, std::size_t pos, char c, const char* after) {
  if (pos >= text.size()) {
    fail(text, std::string("ends after the ") + after + "; expected '" + c + "'");
  }
  if (text[pos] != c) {
    fail(text, std::string("expected '") + c + "' after the " + after + " at position " +
                   std::to_string(pos) + ", found " + describe_char(text[pos]));
  }
}

bool is_leap(int y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned days_in_month(int y, unsigned m) {
  static const unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

struct parsed {
  int year = 0;
  unsigned month = 0, day = 0, hour = 0, minute = 0, second = 0, microsecond = 0;
  bool has_offset = false;
  seconds offset{0};
};

parsed parse_fields(std::string_view text) {
  if (text.empty()) fail(text, "the text is empty");
  parsed p;
  // Date: YYYY-MM-DD.
  p.year = static_cast<int>(read_digits(text, 0, 4, "4-digit year"));
  expect_char(text, 4, '-', "year");
  p.month = read_digits(text, 5, 2, "2-digit month");
  expect_char(text, 7, '-', "month");
  p.day = read_digits(text, 8, 2, "2-digit day");

  // Separator: 'T', 't' or a space (RFC 3339 section 5.6 allows the latter two).
  if (text.size() == 10) fail(text, "missing the time of day, e.g. T10:30:45Z");
  if (text[10] != 'T' && text[10] != 't' && text[10] != ' ') {
    fail(text,
         "expected 'T' or a space between the date and the time, found " + describe_char(text[10]));
  }

  // Time: HH:MM:SS, seconds required.
  p.hour = read_digits(text, 11, 2, "2-digit hour");
  expect_char(text, 13, ':', "hour");
  p.minute = read_digits(text, 14, 2, "2-digit minute");
  if (text.size() == 16 || text[16] != ':') {
    fail(text, "seconds are required: expected ':SS' after the minutes");
  }
  p.second = read_digits(text, 17, 2, "2-digit second");

  // Fraction: '.' and 1 to 9 digits, truncated to microseconds.
  std::size_t pos = 19;
  if (pos < text.size() && text[pos] == '.') {
    const std::size_t start = ++pos;
    while (pos < text.size() && is_digit(text[pos])) ++pos;
    const std::size_t count = pos - start;
    if (count == 0) fail(text, "expected digits after '.'");
    if (count > 9) {
      fail(text, "at most 9 fractional digits are allowed, got " + std::to_string(count));
    }
    unsigned micro = 0;
    for (std::size_t i = 0; i < 6; ++i) {
      micro = micro * 10 + (i < count ? static_cast<unsigned>(text[start + i] - '0') : 0);
    }
    p.microsecond = micro;
  }

  // Offset: 'Z', 'z', +HH:MM, -HH:MM, +HHMM, -HHMM, or nothing (a naive timestamp).
  if (pos < text.size()) {
    const char c = text[pos];
    if (c == 'Z' || c == 'z') {
      p.has_offset = true;
      ++pos;
    } else if (c == '+' || c == '-') {
      // +HH:MM or +HHMM; anything else (+05, +5:00, +05:0) is named as a bad offset.
      const std::string_view rest = text.substr(pos + 1);
      const bool colon = rest.size() >= 3 && rest[2] == ':';
      const std::size_t len = colon ? 5 : 4;
      bool ok = rest.size() >= len;
      for (std::size_t i = 0; ok && i < len; ++i) {
        ok = (colon && i == 2) || is_digit(rest[i]);
      }
      if (!ok) {
        fail(text, "bad UTC offset " + quote(text.substr(pos, len + 1)) +
                       "; expected Z, +HH:MM, -HH:MM, +HHMM or -HHMM");
      }
      const unsigned oh = read_digits(text, pos + 1, 2, "offset hour");
      const unsigned om = read_digits(text, pos + len - 1, 2, "offset minute");
      pos += len + 1;
      if (oh > 23) fail(text, "offset hour " + std::to_string(oh) + " out of range 0-23");
      if (om > 59) fail(text, "offset minute " + std::to_string(om) + " out of range 0-59");
      // "-00:00" (RFC 3339's "offset unknown") is read as UTC, the only instant it can mean.
      const seconds off = hours(oh) + minutes(om);
      p.offset = c == '-' ? -off : off;
      p.has_offset = true;
    } else {
      fail(text, "unexpected " + describe_char(c) + " at position " + std::to_string(pos) +
                     " after the seconds; expected '.', 'Z', +HH:MM, -HH:MM or the end");
    }
    if (pos < text.size()) {
      fail(text, "unexpected trailing text " + quote(text.substr(pos)) + " after the offset");
    }
  }

  // Ranges, after the shape, so the message names the first wrong field.
  if (p.month < 1 || p.month > 12) {
    fail(text, "month " + std::to_string(p.month) + " out of range 1-12");
  }
  const unsigned dim = days_in_month(p.year, p.month);
  if (p.day < 1 || p.day > dim) {
    fail(text, "day " + std::to_string(p.day) + " out of range 1-" + std::to_string(dim) + " for " +
                   month_names[p.month - 1] + " " + std::to_string(p.year));
  }
  if (p.hour > 23) fail(text, "hour " + std::to_string(p.hour) + " out of range 0-23");
  if (p.minute > 59) fail(text, "minute " + std::to_string(p.minute) + " out of range 0-59");
  if (p.second == 60) {
    fail(text,
         "second 60 out of range 0-59: leap seconds are not supported because the "
         "system clock does not count them");
  }
  if (p.second > 59) fail(text, "second " + std::to_string(p.second) + " out of range 0-59");
  return p;
}

// Seconds since the epoch of the wall-clock reading in `p`, as if it were UTC.
seconds local_seconds_of(const parsed& p) {
  const date::sys_days d = date::year{p.year} / date::month{p.month} / date::day{p.day};
  return d.time_since_epoch() + hours(p.hour) + minutes(p.minute) + seconds(p.second);
}

// ---------------------------------------------------------------------------------------------
// Suggestions.

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

// Lower is better: tier, then distance. suggest_zones breaks ties canonical-first, then by name.
struct rank {
  unsigned tier = 99;  // 0 exact, 1 city, 2 edit distance, 3 prefix, 99 no match
  std::size_t distance = 0;
  bool operator<(const rank& o) const {
    return tier != o.tier ? tier < o.tier : distance < o.distance;
  }
};

}  // namespace

// ---------------------------------------------------------------------------------------------

timestamp now() {
  return date::floor<microseconds>(std::chrono::system_clock::now());
}

timestamp parse_rfc3339(std::string_view text, std::string_view naive_zone) {
  const auto& tz = require_zone(naive_zone);
  const parsed p = parse_fields(text);
  const seconds local = local_seconds_of(p);
  seconds utc;
  if (p.has_offset) {
    utc = local - p.offset;
  } else {
    // A naive wall-clock time. In an overlap (fall back) `first` is the earlier period, so
    // subtracting its offset gives the earlier instant (date::choose::earliest). In a gap
    // (spring forward) `first` is the period before the gap: reading the time with that
    // offset moves it forward by the length of the gap (02:30 in New York on 2024-03-10 is
    // 03:30 EDT), as a clock not yet set forward would read. date::choose::earliest would map
    // every time in the gap to the transition instant (03:00) instead.
    const auto info = tz.get_info(date::local_seconds{local});
    utc = local - info.first.offset;
  }
  return timestamp{microseconds(utc) + microseconds(p.microsecond)};
}

bool is_naive(std::string_view text) {
  // The date part "YYYY-MM-DD" contains '-', so look only past it.
  if (text.size() <= 10) return true;
  return text.substr(10).find_first_of("Zz+-") == std::string_view::npos;
}

std::string format_rfc3339(timestamp t, std::string_view zone) {
  const auto& tz = require_zone(zone);
  // RFC 3339 offsets have no seconds field. Local mean time before ~1900 has offsets like
  // -04:56:02 (New York); round the offset to whole minutes and write the wall clock in
  // that rounded offset, so the text still names exactly the instant `t`.
  const auto offset = date::round<minutes>(info_at(tz, t).offset);
  const civil c = to_civil(t, offset);
  const auto off_min = offset.count();
  const auto abs_min = off_min < 0 ? -off_min : off_min;
  char buf[64];
  std::snprintf(buf, sizeof buf, "-%02u-%02uT%02u:%02u:%02u.%06u%c%02lld:%02lld", c.month, c.day,
                c.hour, c.minute, c.second, c.microsecond, off_min < 0 ? '-' : '+',
                static_cast<long long>(abs_min / 60), static_cast<long long>(abs_min % 60));
  return format_year(c.year) + buf;
}

std::string format_datetime(timestamp t, std::string_view zone) {
  const auto& tz = require_zone(zone);
  const civil c = to_civil(t, info_at(tz, t).offset);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s %u, %lld, %u:%02u:%02u %s", month_abbrevs[c.month - 1], c.day,
                c.year, hour12(c.hour), c.minute, c.second, meridiem(c.hour));
  return buf;
}

std::string format_time(timestamp t, std::string_view zone) {
  const auto& tz = require_zone(zone);
  const civil c = to_civil(t, info_at(tz, t).offset);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%u:%02u:%02u %s", hour12(c.hour), c.minute, c.second,
                meridiem(c.hour));
  return buf;
}

std::string format_date(timestamp t, std::string_view zone) {
  const auto& tz = require_zone(zone);
  const civil c = to_civil(t, info_at(tz, t).offset);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%s %u, %lld", month_abbrevs[c.month - 1], c.day, c.year);
  return buf;
}

std::string format_relative(timestamp t, timestamp now, std::string_view zone) {
  require_zone(zone);
  // |now - t| in unsigned arithmetic: the signed difference of two extreme timestamps
  // overflows, their unsigned difference never does.
  const auto a = static_cast<std::uint64_t>(t.time_since_epoch().count());
  const auto b = static_cast<std::uint64_t>(now.time_since_epoch().count());
  const bool future = t > now;
  const std::uint64_t us = future ? a - b : b - a;
  constexpr std::uint64_t per_minute = 60'000'000;
  constexpr std::uint64_t per_hour = 60 * per_minute;
  constexpr std::uint64_t per_day = 24 * per_hour;
  if (us < per_minute) return "just now";
  std::string amount;
  if (us < per_hour) {
    amount = std::to_string(us / per_minute) + "m";
  } else if (us < per_day) {
    amount = std::to_string(us / per_hour) + "h";
  } else {
    amount = std::to_string(us / per_day) + "d";
  }
  return future ? "in " + amount : amount + " ago";
}

std::string format_relative(timestamp t, std::string_view zone) {
  return format_relative(t, now(), zone);
}

bool is_same_day(timestamp a, timestamp b, std::string_view zone) {
  const auto& tz = require_zone(zone);
  const auto day_of = [&tz](timestamp t) {
    const civil c = to_civil(t, info_at(tz, t).offset);
    return std::make_tuple(c.year, c.month, c.day);
  };
  return day_of(a) == day_of(b);
}

std::string zoned_time::rfc3339() const {
  return format_rfc3339(instant, zone);
}

zoned_time to_zone(timestamp t, std::string_view zone) {
  const auto& tz = require_zone(zone);
  const auto info = info_at(tz, t);
  const civil c = to_civil(t, info.offset);
  zoned_time z;
  z.zone = std::string(zone);
  z.abbreviation = info.abbrev;
  z.utc_offset = info.offset;
  z.year = static_cast<int>(c.year);
  z.month = c.month;
  z.day = c.day;
  z.hour = c.hour;
  z.minute = c.minute;
  z.second = c.second;
  z.microsecond = c.microsecond;
  z.instant = t;
  return z;
}

const std::vector<std::string>& common_zones() {
  static const std::vector<std::string> zones = {
      "UTC",
      "America/New_York",
      "America/Chicago",
      "America/Denver",
      "America/Los_Angeles",
      "America/Toronto",
      "America/Mexico_City",
      "America/Buenos_Aires",
      "Europe/London",
      "Europe/Paris",
      "Europe/Berlin",
      "Europe/Madrid",
      "Europe/Amsterdam",
      "Europe/Moscow",
      "Asia/Kolkata",
      "Asia/Bangkok",
      "Asia/Hong_Kong",
      "Asia/Singapore",
      "Asia/Tokyo",
      "Asia/Seoul",
      "Australia/Sydney",
      "Australia/Melbourne",
      "Pacific/Auckland",
  };
  return zones;
}

const std::vector<std::string>& all_zones() {
  return index().names;
}

bool is_valid_zone(std::string_view zone) {
  return find_zone(zone) != nullptr;
}

void validate_zone(std::string_view zone) {
  require_zone(zone);
}

std::vector<std::string> suggest_zones(std::string_view zone, std::size_t count) {
  // Normalize: trim, lowercase, and spaces to '_' ("new york" -> "new_york").
  while (!zone.empty() && (zone.front() == ' ' || zone.front() == '\t')) zone.remove_prefix(1);
  while (!zone.empty() && (zone.back() == ' ' || zone.back() == '\t')) zone.remove_suffix(1);
  std::string query = to_lower(zone);
  std::replace(query.begin(), query.end(), ' ', '_');
  if (query.empty() || count == 0) return {};
  const auto slash = query.rfind('/');
  const std::string_view full = query;
  const std::string_view city = slash == npos ? full : full.substr(slash + 1);
  // Up to a third of the (city) name may be wrong, at least one edit: "Pari", "Aukland" and
  // "Kolkatta" are found, "xyz" is not near anything.
  const std::size_t limit = std::max<std::size_t>(1, city.size() / 3);

  const auto& entries = index().entries;
  std::vector<rank> ranks(entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    const std::string_view name = e.lower;
    const std::string_view ecity = name.substr(e.city);
    rank& r = ranks[i];
    if (name == full) {
      r = {0, 0};
    } else if (!city.empty() && ecity == city) {
      r = {1, 0};
    } else {
      std::size_t d = edit_distance(full, name, limit);
      if (!city.empty()) d = std::min(d, edit_distance(city, ecity, limit));
      if (d <= limit) {
        r = {2, d};
      } else if ((city.size() >= 3 && starts_with(ecity, city)) ||
                 (full.size() >= 3 && starts_with(name, full))) {
        r = {3, 0};
      }
    }
  }
  // A name or edit-distance match on a deprecated link also suggests the zone it points to,
  // ranked level with it (and so ahead of it, canonical names winning ties): "Calcutta" gives
  // Asia/Kolkata, then Asia/Calcutta. An exact case-insensitive hit keeps its own spelling
  // first, and prefix matches ("Europe/") are too loose to pull in targets.
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (!entries[i].deprecated || ranks[i].tier > 2) continue;
    rank via = ranks[i];
    via.tier = std::max(via.tier, 1u);
    if (via < ranks[entries[i].target]) ranks[entries[i].target] = via;
  }

  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (ranks[i].tier != 99) order.push_back(i);
  }
  const auto better = [&](std::size_t a, std::size_t b) {
    if (ranks[a] < ranks[b]) return true;
    if (ranks[b] < ranks[a]) return false;
    if (entries[a].deprecated != entries[b].deprecated) return !entries[a].deprecated;
    return a < b;  // entries are sorted by name
  };
  const std::size_t n = std::min(count, order.size());
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n), order.end(),
                    better);
  std::vector<std::string> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) out.push_back(entries[order[i]].name);
  return out;
}

}  // namespace rtev::time
