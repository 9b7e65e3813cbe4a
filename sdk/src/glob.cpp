#include "rtev/glob.hpp"

namespace rtev {

bool glob_match(std::string_view pattern, std::string_view text) noexcept {
  // Iterative matching that only remembers the latest '*': when a later literal fails, that
  // star absorbs one more character and matching resumes. Earlier stars never need revisiting
  // (whatever they could absorb, the latest star can too), so the worst case is
  // O(pattern * text) with no recursion, where naive backtracking is exponential on
  // patterns like a*a*a*a*b.
  constexpr auto none = std::string_view::npos;
  std::size_t p = 0;
  std::size_t t = 0;
  std::size_t star = none;  // position of the latest '*' in pattern
  std::size_t resume = 0;   // text position that star has absorbed up to
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != none) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace rtev
