#pragma once
// Internal: the client side's lws_context and its TLS, in one place for every user — the
// rtev::client (all transports) and the blocking request of http_fetch.hpp.
//
//   - create_client_context(): no listening port, the caller's protocol list and user data,
//     TLS (OpenSSL) only when the URL needs it, `ca_file` as the CA bundle.
//   - certificate_refused(): what OpenSSL refused while verifying the server's certificate,
//     as words ("self-signed certificate", "the server's TLS certificate is not trusted (…)"),
//     instead of what lws reports afterwards ("SSL err 1: error:00000001:lib(0)::reason(1)").
//
// Threads: create_client_context() on the thread that will service the context;
// certificate_refused() inside that context's lws callback.

#include <libwebsockets.h>

#include <cstddef>
#include <optional>
#include <string>

namespace rtev::detail {

/// A client-side context: `protocols` (terminated by an empty entry, kept alive by the caller
/// as long as the context), `user` as lws_context_user(). TLS is set up only when `tls` (a
/// wss:// or https:// URL), verifying with `ca_file` (PEM) when it is not empty, else with the
/// system's CAs. `timeout_secs`: lws's own limit on each connection phase (connect, TLS
/// handshake, waiting for the response head); 0 keeps lws's default of 5 s. Also sets lws's
/// log level (errors and warnings with RTEV_DEBUG, else none). nullptr when lws cannot create
/// it (an unreadable `ca_file`, …).
lws_context* create_client_context(const lws_protocols* protocols, void* user, bool tls,
                                   const std::string& ca_file, unsigned timeout_secs = 0);

/// Why a server certificate was refused.
struct certificate_refusal {
  /// In a few words: "self-signed certificate", "issued by an unknown authority", "expired",
  /// "not yet valid", "issued for another name", or OpenSSL's own text.
  std::string problem;
  /// The whole sentence: "the server's TLS certificate is not trusted (self-signed
  /// certificate)", "… is not valid for HOST (it was issued for another name)", …
  std::string sentence;
};

/// For LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION, with the callback's `user` and
/// `len` as lws 4.1 passes them (the X509_STORE_CTX and OpenSSL's preverify_ok): the refusal,
/// or nothing when OpenSSL accepted the certificate. `host`: the name connected to. The
/// callback should return 0 (OpenSSL's verdict stands).
std::optional<certificate_refusal> certificate_refused(void* user, std::size_t len,
                                                       const std::string& host);

}  // namespace rtev::detail
