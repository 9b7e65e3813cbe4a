#pragma once
// publish_frame: a client's PUBLISH operation (or an HTTP publish body) read with simdjson on
// demand, without a JSON tree (issue 12; docs/performance.md §6 measured it 10–30× faster than
// the DOM). The event's `data` is the slice of the client's bytes as sent; the ref is its JSON
// text.
//
// It only takes what the DOM path (rtev::parse_json, then decode_op in op_decode.cpp) would
// accept: for another operation, any field it would refuse, any text simdjson refuses, or a
// shape it leaves to the DOM (user_id, user_ids) it answers nullopt, and the caller decodes the
// frame the usual way — so every refusal keeps its code and message, and text nlohmann accepts
// but simdjson 3.0 does not (a UTF-8 BOM, an integer ≥ 2^64, NUL bytes after the frame) is
// still accepted. simdjson itself stays inside publish_frame.cpp.
//
// Threads: any; each thread has its own parser.

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

#include "hub_ops.hpp"

namespace rtev::server_lite {

/// Bytes simdjson may read past the end of a text (simdjson::SIMDJSON_PADDING, checked in
/// publish_frame.cpp): a receive buffer with this much spare capacity spares a copy.
inline constexpr std::size_t json_read_padding = 64;

/// `text`, a whole client frame `{"type":"PUBLISH","ref"?,"data":{event}}` (the type in any
/// case), as a publish_op; nullopt when the frame is anything else or would be refused.
/// `readable`: how many bytes from text.data() may be read (the buffer's capacity); with less
/// than text.size() + json_read_padding the text is first copied into a padded buffer.
std::optional<publish_op> decode_publish_frame(std::string_view text, std::size_t readable = 0);

/// A `POST /api/events` body read the same way.
struct publish_body {
  bool many = false;                    ///< the body was an array of events
  std::vector<publish_request> events;  ///< one per body item
};

/// `text`, a whole `POST /api/events` body — an event object, or a non-empty array of them —
/// as publish requests, with each event's `data` as the slice of the body; nullopt when the
/// body would be refused or has an item left to the DOM path (parse_publish in op_decode.cpp),
/// as for decode_publish_frame. `readable` as for decode_publish_frame.
std::optional<publish_body> decode_publish_body(std::string_view text, std::size_t readable = 0);

}  // namespace rtev::server_lite
