// `mntns ls -o LIST`: any column list must be parsed or refused with EINVAL;
// the columns it gives must render a mount whose strings hold any bytes (the
// rest of the input), one row per mount.
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "output/mount_output.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const std::size_t split = input.find('\n');
  const std::string list = input.substr(0, split);
  const std::string bytes = split == std::string::npos ? std::string() : input.substr(split + 1);
  auto columns = mntns::cli::ParseColumns(list);
  if (!columns) {
    if (columns.error().code != EINVAL) std::abort();
    return 0;
  }
  mntns::Mount mount;
  mount.mask = mntns::field::kAll;
  mount.point = bytes;
  mount.root = bytes;
  mount.sb_source = bytes;
  mount.fs_type = bytes;
  mount.fs_options = bytes;
  mount.id = 2;
  mount.parent_id = 1;
  std::vector<std::string> cells;
  const std::vector<mntns::Mount> mounts = {mount};
  mntns::cli::RenderRows(mounts, *columns, cells);
  if (cells.size() != columns->size()) std::abort();
  // Text output escapes what would break a row.
  for (const std::string& cell : cells) {
    if (cell.find('\n') != std::string::npos) std::abort();
  }
  return 0;
}
