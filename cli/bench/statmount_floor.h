// The floor of `mntns bench ls`: the statmount calls that `ls --json` makes,
// issued bare (StatmountUndecoded: nothing decoded), as a floor for every
// statmount-based reader.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "mntns/error.h"

namespace mntns::cli {

// Every mount id of the caller's namespace, in listmount order.
[[nodiscard]] Result<std::vector<std::uint64_t>> ListCallerMountIds();

// One statmount per mount of `ids` asking for what `ls --json` needs of each
// mount (the superblock's strings, which the library asks for once per
// superblock, left out), split over every core, into one buffer per thread,
// with nothing decoded. A mount gone meanwhile (ENOENT) is skipped.
[[nodiscard]] Result<void> StatmountCallsAlone(std::span<const std::uint64_t> ids);

}  // namespace mntns::cli
