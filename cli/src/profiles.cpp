#include "profiles.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "exit_codes.hpp"
#include "rtev/json.hpp"

namespace rtev::cli {

std::string config_path() {
  std::string base;
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x)
    base = x;
  else if (const char* h = std::getenv("HOME"); h && *h)
    base = std::string(h) + "/.config";
  else
    base = ".";
  return base + "/rtev/config.json";
}

profile_store profile_store::load() {
  profile_store s;
  const std::string path = config_path();
  std::ifstream in(path);
  if (!in) return s;
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  nlohmann::json j = rtev::parse_json(text);
  if (j.is_discarded() || !j.is_object()) throw usage_error(path + ": not a JSON object");
  s.current = j.value("current", "");
  if (j.contains("profiles") && j["profiles"].is_object())
    for (auto& [name, p] : j["profiles"].items())
      if (p.is_object())
        s.profiles[name] = {p.value("url", ""), p.value("token", ""), p.value("tz", ""),
                            p.value("protocol", "")};
  return s;
}

void profile_store::save() const {
  nlohmann::json j = {{"current", current}, {"profiles", nlohmann::json::object()}};
  for (const auto& [name, p] : profiles) {
    nlohmann::json e = {{"url", p.url}};
    if (!p.token.empty()) e["token"] = p.token;
    if (!p.tz.empty()) e["tz"] = p.tz;
    if (!p.protocol.empty()) e["protocol"] = p.protocol;
    j["profiles"][name] = e;
  }
  const std::filesystem::path path = config_path();
  std::filesystem::create_directories(path.parent_path());
  const auto tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << j.dump(2) << '\n';
    if (!out) throw std::runtime_error("cannot write " + tmp);
  }
  std::filesystem::permissions(
      tmp, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  std::filesystem::rename(tmp, path);  // tokens inside: owner-only, replaced atomically
}

std::optional<profile_entry> find_profile(const std::string& name) {
  auto s = profile_store::load();
  auto it = s.profiles.find(name);
  if (it == s.profiles.end()) return std::nullopt;
  return it->second;
}

std::optional<profile_entry> current_profile() {
  auto s = profile_store::load();
  if (s.current.empty()) return std::nullopt;
  auto it = s.profiles.find(s.current);
  if (it == s.profiles.end()) return std::nullopt;
  return it->second;
}

}  // namespace rtev::cli
