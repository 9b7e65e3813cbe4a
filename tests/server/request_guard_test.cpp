// server-lite/src/request_guard.hpp: the raw request-head check that answers what lws 4.1
// would otherwise answer with an HTML 403, a silent close or a 10 s wait.
#include "request_guard.hpp"

#include <catch2/catch.hpp>

#include <string>

using rtev::server_lite::check_request_head;
using rtev::server_lite::head_check;
using rtev::server_lite::max_head_fields;
using rtev::server_lite::max_request_head_bytes;
using rtev::server_lite::raw_http_response;
using rtev::server_lite::url_decode;

namespace {

// The refusal's status and message for `head`; fails the test when it is not refused.
std::pair<int, std::string> refusal(const std::string& head) {
  const head_check r = check_request_head(head);
  INFO(head);
  REQUIRE(r.what == head_check::verdict::refuse);
  REQUIRE(r.refusal);
  return {r.refusal->status, r.refusal->body};
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("well_formed_heads_pass_and_partial_ones_ask_for_more", "[server][request_guard]") {
  SECTION("a complete head passes, with CRLF or bare LF line ends") {
    for (const char* ok :
         {"GET /api/history?room=lobby&limit=5 HTTP/1.1\r\nHost: x\r\n\r\n",
          "POST /api/events HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", "GET / HTTP/1.0\n\n",
          "\r\nGET /x HTTP/1.1\r\n\r\n",
          "GET /events/sse?rooms=a%2Cb&since=2024-01-01T00%3A00%3A00Z HTTP/1.1\r\n\r\n",
          "GET /p?flag&x= HTTP/1.1\r\nX-Empty:\r\nX-Tab: a\tb\r\n\r\n",
          "GET /api/users/%C3%A9 HTTP/1.1\r\n\r\n", "HEAD / HTTP/1.1\r\n\r\n"}) {
      INFO(ok);
      CHECK(check_request_head(ok).what == head_check::verdict::pass);
    }
  }
  SECTION("a head without its blank line is incomplete") {
    CHECK(check_request_head("").what == head_check::verdict::incomplete);
    CHECK(check_request_head("GET /api/hist").what == head_check::verdict::incomplete);
    CHECK(check_request_head("GET / HTTP/1.1\r\nHost: x\r\n").what ==
          head_check::verdict::incomplete);
  }
  SECTION("a TLS handshake on the plain port is told to use http:// or ws://") {
    auto [status, body] = refusal(std::string("\x16\x03\x01\x02\x00", 5));
    CHECK(status == 400);
    CHECK(contains(body, "TLS handshake"));
  }
}

TEST_CASE("bad_escapes_and_control_bytes_in_the_url_name_the_parameter",
          "[server][request_guard]") {
  SECTION("a malformed escape in a query value") {
    auto [status, body] = refusal("GET /api/history?room=%ZZ HTTP/1.1\r\n\r\n");
    CHECK(status == 400);
    CHECK(contains(body, "query parameter 'room'"));
    CHECK(contains(body, "malformed %-escape '%ZZ'"));
  }
  SECTION("a truncated escape at the end") {
    auto [status, body] = refusal("GET /events/sse?since=5% HTTP/1.1\r\n\r\n");
    CHECK(status == 400);
    CHECK(contains(body, "query parameter 'since'"));
  }
  SECTION("decoded NUL, LF and CR are refused, naming the parameter") {
    for (const char* esc : {"%00", "%0A", "%0d"}) {
      auto [status, body] =
          refusal(std::string("GET /api/history?room=a") + esc + "b HTTP/1.1\r\n\r\n");
      CHECK(status == 400);
      CHECK(contains(body, "query parameter 'room': control character " + std::string(esc)));
    }
  }
  SECTION("in a parameter name, or the path, or a user id") {
    CHECK(contains(refusal("GET /x?r%G=1 HTTP/1.1\r\n\r\n").second, "a query parameter name"));
    CHECK(contains(refusal("GET /api/st%zzats HTTP/1.1\r\n\r\n").second, "path: malformed"));
    CHECK(contains(refusal("GET /api/users/a%00 HTTP/1.1\r\n\r\n").second, "user id: control"));
  }
  SECTION("other escaped control bytes go on to the checks that know the parameter") {
    CHECK(check_request_head("GET /events/sse?rooms=a%09b HTTP/1.1\r\n\r\n").what ==
          head_check::verdict::pass);
  }
  SECTION("%FF decodes fine here: UTF-8 is checked after lws, by http_request_head") {
    CHECK(check_request_head("GET /api/history?room=%FF HTTP/1.1\r\n\r\n").what ==
          head_check::verdict::pass);
  }
}

TEST_CASE("malformed_request_lines_and_headers_are_answered_at_once", "[server][request_guard]") {
  SECTION("a header line without a colon, before the head is even complete") {
    auto [status, body] = refusal("GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n");
    CHECK(status == 400);
    CHECK(contains(body, "header line 2 has no ':'"));
  }
  SECTION("folded and nameless header lines, control bytes in a value") {
    CHECK(contains(refusal("GET / HTTP/1.1\r\nB: b\r\n  folded\r\n\r\n").second, "folded"));
    CHECK(contains(refusal("GET / HTTP/1.1\r\n: v\r\n\r\n").second, "no valid name"));
    CHECK(contains(refusal(std::string("GET / HTTP/1.1\r\nQ: a\x01z\r\n\r\n")).second,
                   "header 'q' contains a control character"));
  }
  SECTION("an unknown method is 501, naming it") {
    auto [status, body] = refusal("BREW /pot HTTP/1.1\r\n\r\n");
    CHECK(status == 501);
    CHECK(contains(body, "method 'BREW'"));
  }
  SECTION("another HTTP version is 505") {
    CHECK(refusal("GET / HTTP/2.0\r\n\r\n").first == 505);
    CHECK(refusal("PRI * HTTP/2.0\r\n\r\n").first == 501);
  }
  SECTION("a request line that is not three parts, or a target that is not a path") {
    CHECK(refusal("GET /a b HTTP/1.1\r\n\r\n").first == 400);
    CHECK(refusal("GET\r\n\r\n").first == 400);
    CHECK(contains(refusal("GET http://x/ HTTP/1.1\r\n\r\n").second, "starting with '/'"));
  }
}

TEST_CASE("header_names_lws_cannot_read_are_refused_naming_the_header_and_why",
          "[server][request_guard]") {
  const auto head = [](const std::string& name) {
    return "GET /health HTTP/1.1\r\nHost: x\r\n" + name + ": v\r\n\r\n";
  };
  SECTION("the beginning of a known header name, in any case, stalls lws: 400 naming both") {
    auto [status, body] = refusal(head("A"));
    CHECK(status == 400);
    CHECK(contains(body, "\"bad_request\""));
    CHECK(contains(body, "header 'a' cannot be read by this server's HTTP parser"));
    CHECK(contains(body, "the beginning of a known one, here 'accept'"));
    CHECK(contains(body, "rename or drop it"));
    CHECK(contains(refusal(head("Cook")).second, "header 'cook' cannot be read"));
    CHECK(contains(refusal(head("Cook")).second, "here 'cookie'"));
    CHECK(contains(refusal(head("Www")).second, "here 'www-authenticate'"));
    CHECK(contains(refusal(head("X-A")).second, "here 'x-auth-token'"));
    for (const char* name : {"Ac", "Co", "Con", "Conne", "T", "Ho", "Accept-", "Accept-Charse",
                             "Sec-WebSocket-Ke", "Http2", "X-Auth-Toke", "CONTENT-T"}) {
      INFO(name);
      CHECK(refusal(head(name)).first == 400);
    }
  }
  SECTION("the beginning of a request-line word lws knows stalls it too") {
    CHECK(contains(refusal(head("Ge")).second, "word it knows from request lines, here 'get'"));
    for (const char* name : {"Get", "Post", "Options", "Head", "Uri-Ar", "Proxy", "Http", "Pa"}) {
      INFO(name);
      CHECK(refusal(head(name)).first == 400);
    }
  }
  SECTION("a name beginning with PATCH, PUT or DELETE makes lws close: refused too") {
    CHECK(contains(refusal(head("Putty")).second,
                   "closes the connection on a header name that begins with the method 'put'"));
    for (const char* name : {"Put", "PATCH", "Delete", "Deleted", "patch-x"}) {
      INFO(name);
      CHECK(refusal(head(name)).first == 400);
    }
  }
  SECTION("whole known names, names past one, and other names pass") {
    for (const char* name : {"Accept",
                             "Accept-Charset",
                             "Cookie",
                             "Host",
                             "Connection",
                             "Sec-WebSocket-Key",
                             "X-Auth-Token",
                             "Te",
                             "Via",
                             "Uri-Args",
                             "Accept-X",
                             "Cookiex",
                             "Hostx",
                             "Getx",
                             "Get-X",
                             "X-Auth-Tokenx",
                             "B",
                             "Qq",
                             "X-B",
                             "X-Ab",
                             "Dnt",
                             "Abc",
                             "Pu-X",
                             "Authorization",
                             "Content-Typex"}) {
      INFO(name);
      CHECK(check_request_head(head(name)).what == head_check::verdict::pass);
    }
  }
}

TEST_CASE("a_head_past_the_limit_is_414_or_431", "[server][request_guard]") {
  SECTION("a request line that never ends") {
    const std::string line = "GET /" + std::string(max_request_head_bytes, 'a');
    CHECK(refusal(line).first == 414);
  }
  SECTION("headers that never end") {
    std::string head = "GET / HTTP/1.1\r\n";
    while (head.size() < max_request_head_bytes)
      head += "X-Pad: " + std::string(4000, 'p') + "\r\n";
    auto [status, body] = refusal(head);
    CHECK(status == 431);
    CHECK(contains(body, "the request head is longer than"));
  }
  SECTION("one header longer than a header may be, whatever its name") {
    auto [status, body] =
        refusal("GET / HTTP/1.1\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n");
    CHECK(status == 431);
    CHECK(contains(body, "header 'x-big' is longer than 8191 bytes"));
  }
  SECTION("more query parameters and header lines than lws has slots for") {
    std::string query = "p0=v";
    for (int i = 1; i < 50; ++i) query += "&p" + std::to_string(i) + "=v";
    std::string head = "GET /health?" + query + " HTTP/1.1\r\n";
    for (int i = 0; i < 30; ++i) head += "Accept: x\r\n";
    CHECK(check_request_head(head + "\r\n").what == head_check::verdict::pass);  // 80
    auto [status, body] = refusal(head + "Accept: x\r\n\r\n");
    CHECK(status == 431);
    CHECK(contains(body, "more than " + std::to_string(max_head_fields) + " query parameters"));
  }
  SECTION("just under the limit is still incomplete") {
    std::string head = "GET / HTTP/1.1\r\n";
    while (head.size() < max_request_head_bytes - 5000)
      head += "X-Pad: " + std::string(4000, 'p') + "\r\n";
    CHECK(check_request_head(head).what == head_check::verdict::incomplete);
  }
}

TEST_CASE("a_raw_refusal_is_a_whole_http_response_that_closes", "[server][request_guard]") {
  rtev::server_lite::http_response r;
  r.status = 400;
  r.body = R"({"error":{"code":"bad_request","message":"m"}})";
  const std::string wire = raw_http_response(r, {{"access-control-allow-origin", "*"}});
  CHECK(wire.rfind("HTTP/1.1 400 Bad Request\r\n", 0) == 0);
  CHECK(contains(wire, "content-length: " + std::to_string(r.body.size()) + "\r\n"));
  CHECK(contains(wire, "connection: close\r\n"));
  CHECK(contains(wire, "access-control-allow-origin: *\r\n"));
  CHECK(wire.substr(wire.size() - r.body.size()) == r.body);
}

TEST_CASE("url_decode_decodes_as_lws_does_or_says_why_it_cannot", "[server][request_guard]") {
  SECTION("percent escapes of either case are decoded; '+' is a space, %2B a plus") {
    CHECK(url_decode("%7B%22user_id%22%3A1%7D") == R"({"user_id":1})");
    CHECK(url_decode("%7b%22a%22%3a%22%c3%a4%22%7d") == "{\"a\":\"\xc3\xa4\"}");
    CHECK(url_decode("a+b%2Bc") == "a b+c");
    CHECK(url_decode("") == "");
    CHECK(url_decode("user:42") == "user:42");
  }
  SECTION("malformed or truncated escapes are refused, quoting them") {
    for (const char* bad : {"%zz", "100%", "%4", "%4g%41", "%%41"}) {
      std::string why;
      INFO(bad);
      CHECK_FALSE(url_decode(bad, &why));
      CHECK(why.rfind("malformed %-escape '%", 0) == 0);
    }
  }
  SECTION("escaped NUL, CR, LF and raw control bytes are refused; other escapes decode") {
    std::string why;
    CHECK_FALSE(url_decode("a%00", &why));
    CHECK(why == "control character %00 is not allowed");
    CHECK_FALSE(url_decode("a\tb", &why));
    CHECK(url_decode("a%09b") == "a\tb");
    CHECK(url_decode("%FF") == "\xff");
  }
}

TEST_CASE("a_head_checked_piece_by_piece_gets_the_answer_it_gets_whole",
          "[server][request_guard]") {
  using rtev::server_lite::head_progress;
  for (const std::string& head :
       {std::string("GET /api/history?room=lobby HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n"),
        std::string("\r\nPOST /api/events HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"),
        std::string("GET / HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n"),
        std::string("GET /x?a=%ZZ HTTP/1.1\r\n\r\n")}) {
    const head_check whole = check_request_head(head);
    head_progress progress;
    head_check last;
    std::size_t fed = 0;
    // One byte more each time, as a slow client sends it.
    for (fed = 1; fed <= head.size(); ++fed) {
      last = check_request_head(std::string_view(head).substr(0, fed), &progress);
      if (last.what != head_check::verdict::incomplete) break;
    }
    INFO(head);
    CHECK(last.what == whole.what);
    if (whole.refusal) CHECK(last.refusal->body == whole.refusal->body);
    if (whole.what == head_check::verdict::pass) CHECK(progress.lines >= 1);
  }
}
