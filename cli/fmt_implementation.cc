// libfmt's implementation for the statically linked mntns executable
// (Debian's libfmt-dev has no static archive). The library targets link the
// shared libfmt as usual; only cli/CMakeLists.txt's static build uses this.
#include <fmt/format-inl.h>

// The two templates format-inl.h defines but nothing instantiates here; the
// formatting code calls them for char.
namespace fmt::detail {
template auto decimal_point_impl<char>(locale_ref) -> char;
template auto thousands_sep_impl<char>(locale_ref) -> thousands_sep_result<char>;
}  // namespace fmt::detail
