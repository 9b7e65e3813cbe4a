#include "client_context.hpp"

#include <openssl/x509.h>

#include <cstdlib>

namespace rtev::detail {

lws_context* create_client_context(const lws_protocols* protocols, void* user, bool tls,
                                   const std::string& ca_file, unsigned timeout_secs) {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): nothing in rtev sets the environment
  lws_set_log_level(std::getenv("RTEV_DEBUG") ? LLL_ERR | LLL_WARN : 0, nullptr);
  lws_context_creation_info info{};
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = protocols;
  info.user = user;
  info.timeout_secs = timeout_secs;
  // TLS only for wss:// and https://: with OpenSSL initialised by several live contexts,
  // lws 4.1 leaks the extra SSL_CTXs (seen with LeakSanitizer).
  if (tls) info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
  // lws 4.1 writes a client's Origin as "http://" + the value given, even for wss://; with this
  // option it writes the value as is, and ws_link gives it with its scheme.
  info.options |= LWS_SERVER_OPTION_JUST_USE_RAW_ORIGIN;
  if (!ca_file.empty()) info.client_ssl_ca_filepath = ca_file.c_str();
  return lws_create_context(&info);
}

std::optional<certificate_refusal> certificate_refused(void* user, std::size_t len,
                                                       const std::string& host) {
  // lws 4.1 passes the X509_STORE_CTX as `user` and OpenSSL's preverify_ok as `len`
  // (openssl-client.c), for every TLS connection of the context.
  if (len != 0 || !user) return std::nullopt;
  const int err = X509_STORE_CTX_get_error(static_cast<X509_STORE_CTX*>(user));
  if (err == X509_V_OK) return std::nullopt;
  certificate_refusal r;
  switch (err) {
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      r.problem = "self-signed certificate";
      break;
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      r.problem = "self-signed certificate in the chain";
      break;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      r.problem = "issued by an unknown authority";
      break;
    case X509_V_ERR_CERT_HAS_EXPIRED:
      r.problem = "expired";
      r.sentence = "the server's TLS certificate has expired";
      break;
    case X509_V_ERR_CERT_NOT_YET_VALID:
      r.problem = "not yet valid";
      r.sentence = "the server's TLS certificate is not valid yet";
      break;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      r.problem = "issued for another name";
      r.sentence = "the server's TLS certificate is not valid for " + host +
                   " (it was issued for another name)";
      break;
    default:
      r.problem = X509_verify_cert_error_string(err);
      r.sentence = "the server's TLS certificate was refused (" + r.problem + ")";
      break;
  }
  if (r.sentence.empty())
    r.sentence = "the server's TLS certificate is not trusted (" + r.problem + ")";
  return r;
}

}  // namespace rtev::detail
