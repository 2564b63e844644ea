// Test support: run a test body in a forked child inside namespaces of its own,
// so no test can change the mount table it was started in (STYLE.md rule 10).
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>

namespace mntns::testing {

// Forks; the child unshares CLONE_NEWNS (plus `extra_unshare_flags`), makes
// every mount private so nothing propagates back, runs `body` and exits with
// the verdict of its gtest assertions (the child prints its own failures).
// The parent records a failure if the child failed or died, and skips if the
// child skipped. Use it as: InPrivateMountNamespace([&] { ...EXPECT_*... });
void InPrivateMountNamespace(const std::function<void()>& body, int extra_unshare_flags = 0);

// Same, but the child drops to `uid`/`gid` (no capabilities) after entering the
// private namespace and preparing it with `setup` (which runs as root).
void AsUnprivilegedUser(const std::function<void()>& setup, const std::function<void()>& body,
                        uid_t uid = 65534, gid_t gid = 65534);

// In a child inside a private namespace: mkdir -p, then mount helpers built
// on the new mount API. They ASSERT-fail (and return false) on error.
bool MakeDirs(const std::string& path);
bool MountTmpfs(const std::string& path, const std::string& options = "");
bool BindMount(const std::string& source, const std::string& target, bool recursive = false);
// propagation: MS_SHARED, MS_SLAVE, MS_PRIVATE or MS_UNBINDABLE (recursive = AT_RECURSIVE).
bool SetPropagation(const std::string& path, unsigned long propagation, bool recursive = false);
// mount_setattr attr_set bits (MOUNT_ATTR_*), e.g. MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID.
bool SetMountAttributes(const std::string& path, unsigned long attr_set, unsigned long attr_clr = 0);

// A fresh empty directory for one test (inside the child's namespace it can be
// mounted on freely), under /tmp/mntns-test-XXXXXX: one per test process,
// removed with everything in it after the process's last test.
std::string TempDir();

// On 7.x the initial namespace's rootfs sits on an immutable nullfs root, which
// listmount never shows but NS_MNT_GET_INFO counts; the rootfs is an ordinary
// mount there, listed and counted. On 6.x the rootfs is the namespace root
// itself, neither listed nor counted. Copies of the caller's namespace (what
// the emulations start from) inherit the layout, so it is read from the
// caller's own listing (not from the feature probe, which a profile changes).
bool CallerListsARootfs();

// The number of fds open in this process (counts /proc/self/fd).
int OpenFdCount();

// Raises or drops `bits` (capabilities 0-31) in the calling thread's
// effective set, within its permitted one (capset of this thread alone).
bool SetEffectiveCapabilities(unsigned bits, bool on);

}  // namespace mntns::testing
