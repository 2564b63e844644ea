// MNTNS_EXPORT marks the public API: libmntns.so is built with hidden
// visibility, so everything else (mntns::internal, mntns::sys) stays out of
// its dynamic symbol table and can change without breaking programs.
#pragma once

#define MNTNS_EXPORT __attribute__((visibility("default")))
