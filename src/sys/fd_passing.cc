#include "sys/fd_passing.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "sys/fault_injection.h"

namespace mntns::sys {

Result<void> SendWithFileDescriptor(int socket, std::span<const std::byte> data, int fd, const char* what) {
  iovec vector{const_cast<std::byte*>(data.data()), data.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr message{};
  message.msg_iov = &vector;
  message.msg_iovlen = 1;
  if (fd >= 0) {
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(header), &fd, sizeof fd);
  }
  for (;;) {
    const ssize_t sent = InjectFault(Call::kSendmsg) ? -1 : ::sendmsg(socket, &message, MSG_NOSIGNAL);
    if (sent == static_cast<ssize_t>(data.size())) return kOk;
    const int err = sent < 0 ? errno : EMSGSIZE;
    if (err == EINTR) continue;
    return MakeError(err, "sendmsg", fmt::format("{} (fd {}) over socket {}", what, fd, socket));
  }
}

Result<ReceivedMessage> ReceiveWithFileDescriptor(int socket, std::span<std::byte> into, const char* what) {
  iovec vector{into.data(), into.size()};
  // Room for a few fds: a peer that attaches more must not leave the extra
  // ones to MSG_CTRUNC's silent loss or to us unowned.
  alignas(cmsghdr) char control[CMSG_SPACE(4 * sizeof(int))] = {};
  msghdr message{};
  message.msg_iov = &vector;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  ssize_t got;
  for (;;) {
    got = InjectFault(Call::kRecvmsg) ? -1 : ::recvmsg(socket, &message, MSG_CMSG_CLOEXEC);
    if (got >= 0) break;
    const int err = errno;
    if (err == EINTR) continue;
    return MakeError(err, "recvmsg", fmt::format("{} over socket {}", what, socket));
  }
  ReceivedMessage received;
  received.size = static_cast<std::size_t>(got);
  for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr; header = CMSG_NXTHDR(&message, header)) {
    if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS || header->cmsg_len < CMSG_LEN(0)) {
      continue;
    }
    const std::size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(header) + i * sizeof(int), sizeof fd);
      UniqueFd owned(fd);
      if (!received.fd) received.fd = std::move(owned);
    }
  }
  return received;
}

Result<void> SendFileDescriptor(int socket, int fd) {
  const std::byte byte{0};
  return SendWithFileDescriptor(socket, std::span(&byte, 1), fd, "a file descriptor");
}

Result<UniqueFd> ReceiveFileDescriptor(int socket) {
  std::byte byte{};
  auto received = ReceiveWithFileDescriptor(socket, std::span(&byte, 1), "an fd");
  if (!received) return std::unexpected(received.error());
  if (received->fd) return std::move(received->fd);
  return MakeError(received->size == 0 ? EPIPE : EBADMSG, "recvmsg", fmt::format("socket {} (no fd came)", socket));
}

}  // namespace mntns::sys
