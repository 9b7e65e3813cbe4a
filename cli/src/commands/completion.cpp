#include "commands/completion.hpp"

#include <iostream>
#include <map>
#include <sstream>

#include "exit_codes.hpp"
#include "rtev/catalog.hpp"
#include "rtev/time.hpp"

namespace rtev::cli {

namespace {

// What a shell may offer for a flag's value or a positional argument.
struct value_kind {
  enum class what { none, words, types, zones, files } k = what::none;
  std::string words;  // for words
};

struct command_info {
  std::string path;  // "tail", "profile add"
  std::string description;
  std::vector<std::string> flags;   // "--type", "-o"
  std::vector<std::string> valued;  // the flags that take a value
  std::vector<std::pair<std::string, value_kind>> flag_values;
  std::vector<value_kind> positionals;  // in order
  std::vector<std::string> children;
};

// Values for flags that accept more than a fixed set (templates, numbers) but have usual ones.
const std::map<std::string, std::string>& usual_values() {
  static const std::map<std::string, std::string> v = {
      {"--format", "pretty json jsonl raw"},
      {"--time", "iso local relative"},
      {"--speed", "1 2 10 max"},
  };
  return v;
}
bool is_file_name(const std::string& f) {
  return f == "--db" || f == "--ready-file" || f == "-o" || f == "--output" || f == "--ca-file" ||
         f == "file";
}

// The kind of value an option takes: files, event types and zones by name; a CLI::IsMember
// check's set (described by CLI11 as "{a,b,c}"); else a usual list.
value_kind kind_of(const CLI::Option* opt, const std::string& name) {
  value_kind v;
  if (is_file_name(name)) {
    v.k = value_kind::what::files;
  } else if (name == "--type" || name == "type") {
    v.k = value_kind::what::types;
  } else if (name == "--tz" || name == "--timezone") {
    v.k = value_kind::what::zones;
  } else {
    // get_validator is not const in CLI11 2.1; it only looks the validator up.
    auto* o = const_cast<CLI::Option*>(opt);  // NOLINT(cppcoreguidelines-pro-type-const-cast)
    std::string set;
    try {
      if (const CLI::Validator* val = o->get_validator(0)) set = val->get_description();
    } catch (const CLI::OptionNotFound&) {
    }
    if (set.size() > 2 && set.front() == '{' && set.back() == '}') {
      v.k = value_kind::what::words;
      for (char c : set.substr(1, set.size() - 2)) v.words += c == ',' ? ' ' : c;
    } else if (auto it = usual_values().find(name); it != usual_values().end()) {
      v.k = value_kind::what::words;
      v.words = it->second;
    }
  }
  return v;
}

void collect(const CLI::App* app, const std::string& prefix, std::vector<command_info>& out) {
  for (const CLI::App* sub : app->get_subcommands([](const CLI::App*) { return true; })) {
    command_info c;
    c.path = prefix.empty() ? sub->get_name() : prefix + " " + sub->get_name();
    c.description = sub->get_description();
    for (const CLI::Option* opt : sub->get_options()) {
      if (!opt->nonpositional()) {
        c.positionals.push_back(kind_of(opt, opt->get_name(true, false)));
        continue;
      }
      std::vector<std::string> names;
      for (const auto& l : opt->get_lnames()) names.push_back("--" + l);
      for (const auto& s : opt->get_snames()) names.push_back("-" + s);
      for (const auto& n : names) {
        c.flags.push_back(n);
        if (opt->get_items_expected_min() > 0 || opt->get_expected_max() > 0) {
          c.valued.push_back(n);
          if (value_kind v = kind_of(opt, names.front()); v.k != value_kind::what::none)
            c.flag_values.emplace_back(n, v);
        }
      }
    }
    for (const CLI::App* child : sub->get_subcommands([](const CLI::App*) { return true; }))
      c.children.push_back(child->get_name());
    out.push_back(c);
    collect(sub, c.path, out);
  }
}

std::string join(const std::vector<std::string>& v, const char* sep = " ") {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

// The shell code offering `v` for the word being completed; "" for none.
std::string bash_offer(const value_kind& v) {
  switch (v.k) {
    case value_kind::what::words:
      return "COMPREPLY=($(compgen -W \"" + v.words + "\" -- \"$cur\"))";
    case value_kind::what::types:
      return "COMPREPLY=($(compgen -W \"$(rtev completion --list types 2>/dev/null)\" -- "
             "\"$cur\"))";
    case value_kind::what::zones:
      return "COMPREPLY=($(compgen -W \"$(rtev completion --list zones 2>/dev/null)\" -- "
             "\"$cur\"))";
    case value_kind::what::files:
      return "compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- \"$cur\"))";
    case value_kind::what::none:
      break;
  }
  return {};
}
std::string zsh_offer(const value_kind& v) {
  switch (v.k) {
    case value_kind::what::words:
      return "compadd -- " + v.words;
    case value_kind::what::types:
      return "compadd -- ${(f)\"$(rtev completion --list types 2>/dev/null)\"}";
    case value_kind::what::zones:
      return "compadd -- ${(f)\"$(rtev completion --list zones 2>/dev/null)\"}";
    case value_kind::what::files:
      return "_files";
    case value_kind::what::none:
      break;
  }
  return {};
}
// `text` inside fish single quotes (\\ and \' are its only escapes there).
std::string fish_quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\\' || c == '\'') out += '\\';
    out += c;
  }
  return out + "'";
}

// -x: this value only (no file names); -r -F: a file name.
std::string fish_offer(const value_kind& v) {
  switch (v.k) {
    case value_kind::what::words:
      return " -x -a '" + v.words + "'";
    case value_kind::what::types:
      return " -x -a '(rtev completion --list types)'";
    case value_kind::what::zones:
      return " -x -a '(rtev completion --list zones)'";
    case value_kind::what::files:
      return " -r -F";
    case value_kind::what::none:
      break;
  }
  return {};
}

// The per-command tables both bash and zsh scripts use (plain POSIX-ish functions).
void tables(std::ostringstream& o, const std::vector<command_info>& cmds,
            const std::vector<std::string>& top) {
  o << "_rtev_children() {\n  case \"$1\" in\n    '') echo \"" << join(top) << "\" ;;\n";
  for (const auto& c : cmds)
    if (!c.children.empty())
      o << "    '" << c.path << "') echo \"" << join(c.children) << "\" ;;\n";
  o << "  esac\n}\n_rtev_flags() {\n  case \"$1\" in\n    '') echo \"--version --help\" ;;\n";
  for (const auto& c : cmds) o << "    '" << c.path << "') echo \"" << join(c.flags) << "\" ;;\n";
  o << "  esac\n}\n_rtev_valued() {\n  case \"$1\" in\n";
  for (const auto& c : cmds)
    if (!c.valued.empty()) o << "    '" << c.path << "') echo \"" << join(c.valued) << "\" ;;\n";
  o << "  esac\n}\n";
}

// Shared walk over the words before the cursor: the command path, and how many positional
// arguments were given after it (values of flags that take one are skipped).
const char* walk_body =
    "    if [[ $skip == 1 ]]; then skip=0; continue; fi\n"
    "    case \"$w\" in\n"
    "      --*=*) ;;\n"
    "      -*) [[ \" $(_rtev_valued \"$cmdpath\") \" == *\" $w \"* ]] && skip=1 ;;\n"
    "      *) if [[ $nargs == 0 && \" $(_rtev_children \"$cmdpath\") \" == *\" $w \"* ]]; then\n"
    "           cmdpath=${cmdpath:+$cmdpath }$w\n"
    "         else\n"
    "           nargs=$((nargs + 1))\n"
    "         fi ;;\n"
    "    esac\n";

std::string bash(const std::vector<command_info>& cmds, const std::vector<std::string>& top) {
  std::ostringstream o;
  o << "# bash completion for rtev (generated by `rtev completion bash`)\n"
    << "_rtev() {\n"
    << "  local cur prev cmdpath='' w i nargs=0 skip=0\n"
    << "  cur=${COMP_WORDS[COMP_CWORD]}\n  prev=${COMP_WORDS[COMP_CWORD-1]}\n"
    << "  for ((i = 1; i < COMP_CWORD; i++)); do\n    w=${COMP_WORDS[i]}\n"
    << walk_body << "  done\n"
    << "  # @FILE (publish's DATA, --auth-json): a file name after the @.\n"
    << "  if [[ $cur == @* ]]; then\n"
    << "    compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -P @ -- \"${cur#@}\"))\n"
    << "    return\n  fi\n"
    << "  if [[ $skip == 1 ]]; then\n    case \"$cmdpath $prev\" in\n";
  for (const auto& c : cmds)
    for (const auto& [flag, v] : c.flag_values)
      o << "      '" << c.path << " " << flag << "') " << bash_offer(v) << " ;;\n";
  o << "    esac\n    return\n  fi\n"
    << "  if [[ $cur != -* ]]; then\n    case \"$cmdpath $nargs\" in\n";
  for (const auto& c : cmds)
    for (std::size_t i = 0; i < c.positionals.size(); ++i)
      if (c.positionals[i].k != value_kind::what::none)
        o << "      '" << c.path << " " << i << "') " << bash_offer(c.positionals[i])
          << "; return ;;\n";
  o << "    esac\n  fi\n"
    << "  COMPREPLY=($(compgen -W \"$(_rtev_children \"$cmdpath\") $(_rtev_flags \"$cmdpath\")\" "
       "-- \"$cur\"))\n}\n";
  tables(o, cmds, top);
  o << "complete -F _rtev rtev\n";
  return o.str();
}

std::string zsh(const std::vector<command_info>& cmds, const std::vector<std::string>& top) {
  std::ostringstream o;
  // `path` is not a name to use for a local in zsh: it is tied to $PATH.
  o << "#compdef rtev\n# zsh completion for rtev (generated by `rtev completion zsh`)\n"
    << "_rtev() {\n  local cmdpath='' w cur=${words[CURRENT]} prev=${words[CURRENT-1]}\n"
    << "  local -i nargs=0 skip=0\n"
    << "  for w in ${words[2,CURRENT-1]}; do\n"
    << walk_body << "  done\n"
    << "  if [[ $cur == @* ]]; then compset -P @; _files; return; fi\n"
    << "  if (( skip )); then\n    case \"$cmdpath $prev\" in\n";
  for (const auto& c : cmds)
    for (const auto& [flag, v] : c.flag_values)
      o << "      '" << c.path << " " << flag << "') " << zsh_offer(v) << " ;;\n";
  o << "    esac\n    return\n  fi\n"
    << "  if [[ $cur != -* ]]; then\n    case \"$cmdpath $nargs\" in\n";
  for (const auto& c : cmds)
    for (std::size_t i = 0; i < c.positionals.size(); ++i)
      if (c.positionals[i].k != value_kind::what::none)
        o << "      '" << c.path << " " << i << "') " << zsh_offer(c.positionals[i])
          << "; return ;;\n";
  o << "    esac\n  fi\n"
    << "  compadd -- ${=$(_rtev_children \"$cmdpath\")} ${=$(_rtev_flags \"$cmdpath\")}\n}\n";
  tables(o, cmds, top);
  // Autoloaded from $fpath (as _rtev): complete now. Sourced (`source <(rtev completion zsh)`):
  // register with compinit instead of running outside a completion.
  o << "if [[ $funcstack[1] == _rtev ]]; then\n  _rtev \"$@\"\nelse\n"
    << "  (( $+functions[compdef] )) || { autoload -Uz compinit && compinit; }\n"
    << "  compdef _rtev rtev\nfi\n";
  return o.str();
}

std::string fish(const std::vector<command_info>& cmds) {
  std::ostringstream o;
  o << "# fish completion for rtev (generated by `rtev completion fish`)\ncomplete -c rtev -f\n"
    << "complete -c rtev -n __fish_use_subcommand -l version -d 'Print the version'\n";
  for (const auto& c : cmds) {
    const auto sp = c.path.find(' ');
    std::string cond;
    if (sp == std::string::npos) {
      o << "complete -c rtev -n __fish_use_subcommand -a " << c.path << " -d "
        << fish_quoted(c.description) << "\n";
      cond = "__fish_seen_subcommand_from " + c.path;
    } else {
      const std::string parent = c.path.substr(0, sp), name = c.path.substr(sp + 1);
      o << "complete -c rtev -n '__fish_seen_subcommand_from " << parent << "' -a " << name
        << " -d " << fish_quoted(c.description) << "\n";
      cond = "__fish_seen_subcommand_from " + name;
    }
    for (const auto& f : c.flags) {
      o << "complete -c rtev -n '" << cond << "' "
        << (f.rfind("--", 0) == 0 ? "-l " + f.substr(2) : "-s " + f.substr(1));
      for (const auto& [flag, v] : c.flag_values)
        if (flag == f) o << fish_offer(v);
      o << '\n';
    }
    // Positional values: the first one that offers something (fish cannot count them simply).
    for (const auto& v : c.positionals)
      if (v.k != value_kind::what::none) {
        std::string offer = fish_offer(v);
        offer.erase(0, 3);  // " -x" or " -r": not a flag's value
        o << "complete -c rtev -n '" << cond << "'" << offer << '\n';
        break;
      }
  }
  return o.str();
}

}  // namespace

void setup_completion(CLI::App& app, completion_options& o) {
  auto* cmd =
      app.add_subcommand("completion", "Print a shell completion script (bash, zsh or fish)");
  cmd->add_option("shell", o.shell, "bash, zsh or fish")
      ->check(CLI::IsMember({"bash", "zsh", "fish"}));
  cmd->add_option("--list", o.list, "Print completion values: types or zones")
      ->check(CLI::IsMember({"types", "zones"}));
}

int run_completion(CLI::App& app, completion_options& o) {
  if (o.list == "types") {
    for (const auto& e : catalog()) std::cout << e.name << '\n';
    return exit_ok;
  }
  if (o.list == "zones") {
    for (const auto& z : time::all_zones()) std::cout << z << '\n';
    return exit_ok;
  }
  if (o.shell.empty()) throw usage_error("completion: give a shell: bash, zsh or fish");
  std::vector<command_info> cmds;
  collect(&app, "", cmds);
  std::vector<std::string> top;
  for (const auto& c : cmds)
    if (c.path.find(' ') == std::string::npos) top.push_back(c.path);
  if (o.shell == "bash")
    std::cout << bash(cmds, top);
  else if (o.shell == "zsh")
    std::cout << zsh(cmds, top);
  else
    std::cout << fish(cmds);
  return exit_ok;
}

}  // namespace rtev::cli
