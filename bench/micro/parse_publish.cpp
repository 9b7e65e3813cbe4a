// Micro-benchmark for issue 12, "parse client frames without per-field copies": what one
// PUBLISH frame costs from its text to the stored envelope's text, with
//   A. today's path: rtev::parse_json to a DOM, the field reads and the copies the server makes
//      (handle_operation copies `data`, parse_publish copies `data.data`, the envelope copies
//      it again), then nlohmann dump();
//   B. the same DOM without the copies (moves), to show how much of A the copies are;
//   C. nlohmann SAX: type/ref/room/event type extracted, the byte range of `data.data` recorded
//      and spliced raw into an envelope built by string appends;
//   D. the server's own reader, as handle_rtev_message runs it: decode_publish_frame (simdjson
//      on demand, server-lite/src/publish_frame.cpp), its event data spliced raw, and for a frame
//      it leaves to the DOM path (any refusal too) decode_rtev_message; the timed frames all take
//      the simdjson path;
//   E. simdjson DOM (when built with simdjson): full validation by the parser, `data.data`
//      re-serialised with simdjson::minify.
// First it checks that all variants agree on a set of good and bad frames, the ones of
// tests/server/publish_agreement_frames.hpp that its variants can read (and exits non-zero if
// they do not), then it times them interleaved, several runs, and prints medians and ratios.
//
// Usage: rtev_parse_bench [--runs N] [--ms MILLISECONDS_PER_SAMPLE] [--check-only]

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "parse_variants.hpp"
#include "rtev/json.hpp"
#include "tests/server/publish_agreement_frames.hpp"

#ifdef RTEV_HAVE_SIMDJSON
#include <simdjson.h>
#endif

using namespace parse_bench;
using rtev::test::agreement_frame;
using rtev::test::nested_frame;
using rtev::test::publish_frame;

namespace {

struct variant {
  const char* name;
  variant_fn parse;
};

std::string describe(const parsed_frame& p) {
  if (p.result != status::ok) return status_name(p.result);
  return "ok op=" + p.op + " ref=" + ref_value(p).dump() + " type=" + p.event_type +
         " room=" + p.room + " env=" + p.envelope;
}

// All variants must give the same verdict as the table's DOM path and, for a good frame, the
// same fields and an envelope that parses to the same JSON value as today's.
bool agree(const std::vector<variant>& vs, const agreement_frame& c, bool verbose) {
  const parsed_frame base = vs[0].parse(c.text);
  bool same = std::string_view(status_name(base.result)) == c.dom;
  if (!same)
    std::printf("  %-34s %-28s %s, not %s\n", c.name, vs[0].name, status_name(base.result), c.dom);
  for (std::size_t i = 1; i < vs.size(); ++i) {
    const parsed_frame p = vs[i].parse(c.text);
    bool ok = p.result == base.result;
    if (ok && p.result == status::ok) {
      ok = p.op == base.op && ref_value(p) == ref_value(base) && p.event_type == base.event_type &&
           p.room == base.room;
      const json a = json::parse(base.envelope, nullptr, false);
      const json b = json::parse(p.envelope, nullptr, false);
      ok = ok && !a.is_discarded() && a == b;
    }
    if (!ok || verbose) {
      std::printf("  %-34s %-28s %s\n", c.name, vs[i].name, describe(p).c_str());
      if (!ok) std::printf("  %-34s %-28s %s\n", "", vs[0].name, describe(base).c_str());
    }
    same = same && ok;
  }
  return same;
}

// ---- timing --------------------------------------------------------------------------------

volatile std::size_t sink;

double ns_per_frame(const variant& v, const std::string& frame, double ms) {
  using clock = std::chrono::steady_clock;
  // Calibrate a batch of about 1 ms, then run whole batches for `ms`.
  std::size_t batch = 1;
  for (;;) {
    const auto t0 = clock::now();
    for (std::size_t i = 0; i < batch; ++i) sink = sink + v.parse(frame).envelope.size();
    if (clock::now() - t0 > std::chrono::microseconds(1000) || batch > (1u << 24)) break;
    batch *= 2;
  }
  std::size_t n = 0;
  const auto t0 = clock::now();
  const auto stop = t0 + std::chrono::duration<double, std::milli>(ms);
  auto t = t0;
  while (t < stop) {
    for (std::size_t i = 0; i < batch; ++i) sink = sink + v.parse(frame).envelope.size();
    n += batch;
    t = clock::now();
  }
  return std::chrono::duration<double, std::nano>(t - t0).count() / static_cast<double>(n);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 9;
  double ms = 40;
  bool check_only = false, verbose = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc)
      runs = std::max(1, std::atoi(argv[++i]));
    else if (a == "--ms" && i + 1 < argc)
      ms = std::max(1.0, std::atof(argv[++i]));
    else if (a == "--check-only")
      check_only = true;
    else if (a == "--verbose")
      verbose = true;
    else {
      std::fprintf(stderr, "usage: %s [--runs N] [--ms MS_PER_SAMPLE] [--check-only] [--verbose]\n",
                   argv[0]);
      return 2;
    }
  }

  std::vector<variant> vs = {{"A nlohmann DOM (today)", dom_today},
                             {"B nlohmann DOM, moves", dom_moves},
                             {"C nlohmann SAX+splice", nlohmann_sax}};
#ifdef RTEV_HAVE_SIMDJSON
  vs.push_back({"D server: simdjson, else DOM", server_reader});
  vs.push_back({"E simdjson DOM+minify", simdjson_dom()});
  std::printf("simdjson %d.%d.%d, implementation: %s\n", simdjson::SIMDJSON_VERSION_MAJOR,
              simdjson::SIMDJSON_VERSION_MINOR, simdjson::SIMDJSON_VERSION_REVISION,
              simdjson::get_active_implementation()->name().c_str());
#else
  std::printf("built without simdjson: variants D and E are left out\n");
#endif

  // ---- correctness ----
  bool all_agree = true;
  std::size_t n_ok = 0, n_bad_json = 0, n_bad_request = 0;
  std::size_t n_checked = 0;
  for (const auto& c : rtev::test::agreement_frames()) {
    if (!c.in_bench) continue;
    ++n_checked;
    all_agree = agree(vs, c, verbose) && all_agree;
    switch (vs[0].parse(c.text).result) {
      case status::ok:
        ++n_ok;
        break;
      case status::bad_json:
        ++n_bad_json;
        break;
      case status::bad_request:
        ++n_bad_request;
        break;
    }
  }
  std::printf("check: %zu frames (%zu ok, %zu bad_json, %zu bad_request): %s\n", n_checked, n_ok,
              n_bad_json, n_bad_request, all_agree ? "all variants agree" : "VARIANTS DISAGREE");
  std::printf("noted (not asserted):\n");
  for (const auto& c : rtev::test::noted_frames()) {
    std::printf("  %s:", c.name);
    for (const auto& v : vs) std::printf(" %c=%s", v.name[0], status_name(v.parse(c.text).result));
    std::printf("\n");
  }
  if (!all_agree) return 1;
  if (check_only) return 0;

  // ---- timing: every run times each variant once per frame, in a rotating order ----
  struct frame_kind {
    const char* name;
    std::string text;
  };
  const std::vector<frame_kind> frames = {{"publish, data 50 B", publish_frame(50)},
                                          {"publish, data 200 B", publish_frame(200)},
                                          {"publish, data 2 KB", publish_frame(2048)},
                                          {"publish, nested data", nested_frame()}};
  std::printf(
      "\n%d runs of %.0f ms per variant and frame, interleaved; median ns/frame, "
      "frames/s, and the median of each run's ratio to A\n",
      runs, ms);
  for (const auto& f : frames) {
    std::vector<std::vector<double>> ns(vs.size());
    for (int r = 0; r < runs; ++r)
      for (std::size_t k = 0; k < vs.size(); ++k) {
        const std::size_t i = (k + static_cast<std::size_t>(r)) % vs.size();
        ns[i].push_back(ns_per_frame(vs[i], f.text, ms));
      }
    std::printf("\n%s (frame %zu bytes)\n", f.name, f.text.size());
    std::printf("  %-28s %10s %12s %10s %16s\n", "variant", "ns/frame", "frames/s", "A / this",
                "spread (min-max)");
    for (std::size_t i = 0; i < vs.size(); ++i) {
      std::vector<double> ratio;
      for (int r = 0; r < runs; ++r) ratio.push_back(ns[0][r] / ns[i][r]);
      const double m = median(ns[i]);
      std::printf("  %-28s %10.0f %12.0f %9.2fx %7.0f-%-7.0f\n", vs[i].name, m, 1e9 / m,
                  median(ratio), *std::min_element(ns[i].begin(), ns[i].end()),
                  *std::max_element(ns[i].begin(), ns[i].end()));
    }
  }
  return 0;
}
