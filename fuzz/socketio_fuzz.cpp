// The Engine.IO v4 / Socket.IO v5 codec (sdk/src/wire/socketio_codec.cpp), shared by the SDK's
// client and the server's /socket.io/ door. The input is read as an Engine.IO polling payload,
// as one Engine.IO packet and as a Socket.IO packet; whatever decodes encodes back to text
// that decodes to the same packet.
#include <cstddef>
#include <cstdint>

#include "fuzz_input.hpp"
#include "rtev/error.hpp"
#include "wire/socketio_codec.hpp"

using namespace rtev::wire;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = rtev::fuzz::as_text(data, size);
  try {
    const auto packets = eio_decode_payload(text);
    const auto again = eio_decode_payload(eio_encode_payload(packets));
    if (again.size() != packets.size()) __builtin_trap();
    for (std::size_t i = 0; i < packets.size(); ++i)
      if (again[i].type != packets[i].type || again[i].data != packets[i].data) __builtin_trap();
  } catch (const rtev::parse_error&) {
  }
  try {
    const eio_packet p = eio_decode(text);
    const eio_packet q = eio_decode(eio_encode(p));
    if (q.type != p.type || q.data != p.data) __builtin_trap();
  } catch (const rtev::parse_error&) {
  }
  try {
    const sio_packet p = sio_decode(text);
    const sio_packet q = sio_decode(sio_encode(p));
    if (q.type != p.type || q.nsp != p.nsp || q.ack_id != p.ack_id || q.data != p.data)
      __builtin_trap();
  } catch (const rtev::parse_error&) {
  }
  return 0;
}
