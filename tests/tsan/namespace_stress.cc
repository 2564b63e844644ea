// Stress test for ThreadSanitizer (tests/tsan): threads that create and
// release namespaces with the template factory and the classic strategy,
// while others list mounts block by block (ForEachMountBlock's reading
// threads), one stops the factory now and then, and one keeps asking the
// template keeper for its namespace (ShareTemplateNamespace). Any data race
// ends the run with TSan's report (exit 66); a failed call ends it too.
// Runs in a private mount namespace of its own (STYLE.md rule 10).
//   mntns_namespace_stress [SECONDS]
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "mntns/namespace.h"
#include "mntns/query.h"

namespace {

using namespace std::chrono_literals;

std::atomic<bool> failed{false};

void Fail(const char* what, const mntns::Error& error) {
  std::fprintf(stderr, "namespace stress: %s: %s\n", what, error.Message().c_str());
  failed = true;
}

}  // namespace

int main(int argc, char** argv) {
  const int seconds = argc > 1 ? std::atoi(argv[1]) : 20;
  if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    std::perror("namespace stress: a private mount namespace");
    return 1;
  }
  char directory_template[] = "/tmp/mntns-tsan-XXXXXX";
  if (::mkdtemp(directory_template) == nullptr) return 1;
  const std::string directory = directory_template;

  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  std::atomic<long> namespaces{0};
  std::atomic<long> listings{0};
  std::atomic<long> stops{0};
  std::atomic<long> shares{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    const auto strategy = i == 3 ? mntns::NamespaceStrategy::kClassic : mntns::NamespaceStrategy::kTemplate;
    threads.emplace_back([&, strategy] {
      while (!failed && std::chrono::steady_clock::now() < end) {
        auto ns = mntns::OpenTreeNamespace(AT_FDCWD, "/tmp", 0, {.strategy = strategy});
        if (!ns) return Fail("OpenTreeNamespace", ns.error());
        ++namespaces;
      }
    });
  }
  for (int i = 0; i < 2; ++i) {
    threads.emplace_back([&] {
      while (!failed && std::chrono::steady_clock::now() < end) {
        std::atomic<std::size_t> mounts{0};
        auto blocks = mntns::ForEachMountBlock({}, {.mask = mntns::field::kMntBasic | mntns::field::kMntPoint}, 4,
                                               [&](std::size_t, std::span<const mntns::Mount> block) {
                                                 mounts += block.size();
                                                 return mntns::Result<void>{};
                                               });
        if (!blocks) return Fail("ForEachMountBlock", blocks.error());
        ++listings;
      }
    });
  }
  threads.emplace_back([&] {
    while (!failed && std::chrono::steady_clock::now() < end) {
      std::this_thread::sleep_for(50ms);
      mntns::StopNamespaceFactory();
      ++stops;
    }
  });
  threads.emplace_back([&] {
    while (!failed && std::chrono::steady_clock::now() < end) {
      auto shared = mntns::ShareTemplateNamespace({.directory = directory, .idle = std::chrono::seconds(2)});
      if (!shared) return Fail("ShareTemplateNamespace", shared.error());
      ++shares;
      std::this_thread::sleep_for(20ms);
    }
  });
  for (std::thread& thread : threads) thread.join();
  mntns::StopNamespaceFactory();
  std::error_code ec;
  std::filesystem::remove_all(directory, ec);
  std::printf("TSan stress: %d s, %ld namespaces made, %ld listings, %ld factory stops, %ld keeper calls, %s\n",
              seconds, namespaces.load(), listings.load(), stops.load(), shares.load(),
              failed ? "FAILED" : "no race reported");
  return failed ? 1 : 0;
}
