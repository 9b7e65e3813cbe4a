// HTTP query strings: `GET /api/history?…`, `GET /api/users/<id>` and the SSE stream's
// `GET /api/events?rooms=…&types=…&since=…&named=…`. The input is the query string; it is cut
// into k=v fragments and percent-decoded as libwebsockets hands them to the server (url_decode;
// a fragment the listener would refuse ends the input), and the SSE parameters are split on ','
// as sse_start does before room_hub::open_sse. History is queried over a few stored events.
#include <cstddef>
#include <cstdint>
#include <map>
#include <sstream>

#include "fuzz_input.hpp"
#include "names.hpp"
#include "op_decode.hpp"
#include "request_guard.hpp"
#include "rtev/error.hpp"
#include "server_fixture.hpp"

using namespace rtev;
using namespace rtev::server_lite;

namespace {

std::vector<std::string> split_list(const std::string& v) {
  std::vector<std::string> out;
  std::stringstream ss(v);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = fuzz::as_text(data, size);
  http_request req;
  req.method = "GET";
  req.remote = "127.0.0.1";
  for (std::string_view frag : fuzz::split(text, '&', 64)) {
    const auto decoded = url_decode(frag);
    if (!decoded) return 0;  // the listener refuses the request before lws (request_guard.hpp)
    const std::string& f = *decoded;
    const auto eq = f.find('=');
    if (eq == std::string::npos)
      req.query.emplace(f, "");
    else
      req.query.emplace(f.substr(0, eq), f.substr(eq + 1));
  }

  fuzz::server_fixture fx(auth_mode::none);
  {
    publish_request a;
    a.type = "chat.message";
    a.room = "room:1";
    a.data = R"({"text":"hi"})";
    publish_request b = a;
    b.room = "user:alice";
    publish_request c = a;
    c.type = "system.notice";
    c.room.clear();
    c.broadcast = true;
    fx.hub->publish({a, b, c}, [](publish_outcome) {});
    fx.settle();
  }

  auto answer = [&](const http_request& r) {
    bool replied = false;
    fx.api->handle(r, [&](http_response resp) {
      replied = true;
      if (resp.status < 200 || resp.status >= 600) __builtin_trap();
    });
    fx.settle();
    if (!replied) __builtin_trap();
  };
  req.path = "/api/history";
  answer(req);
  if (auto user = req.param("user")) {
    http_request u = req;
    u.path = "/api/users/" + *user;
    answer(u);
  }

  connection& c = fx.open(conn_kind::sse);
  if (fx.hub->authenticate(c, req.token(), false).empty()) {
    // Bad input throws parse_error (sse_start answers 400); a forbidden room is the returned
    // reason (403). Either way the stream is not opened.
    try {
      const auto rooms = split_list(req.param("rooms").value_or(""));
      require_names("rooms", rooms, name_kind::room_pattern);
      require_names("types", split_list(req.param("types").value_or("")), name_kind::type_pattern);
      std::optional<since_point> since;
      if (auto s = req.param("since")) since = parse_since(json(*s), fx.hub->timezone());
      const std::string err = fx.hub->open_sse(c, rooms, since);
      if (!err.empty()) fx.hub->closed(c.id);
    } catch (const rtev::parse_error&) {
      fx.hub->closed(c.id);
    }
  }
  fx.settle();
  return 0;
}
