// SCM_RIGHTS: one fd, with a small fixed-size message, over an AF_UNIX socket
// (named fd_passing, not socket: src/ is on the include path, and a
// sys/socket.h here would hide the system header).
// The one place that builds the control messages: the polyfill hands its
// seccomp listener and namespace fds over it, the template keeper its
// template namespace. Like syscalls.h, each call names itself and its key
// argument in its Error and saves errno first; received fds are close-on-exec.
#pragma once

#include <cstddef>
#include <span>

#include "mntns/error.h"
#include "mntns/fd.h"

namespace mntns::sys {

// sendmsg(2) of `data` (non-empty) with `fd` attached (none when fd < 0),
// MSG_NOSIGNAL, retried on EINTR. A short send is EMSGSIZE (SOCK_SEQPACKET and
// SOCK_DGRAM send a message whole or not at all). `what` names the message in
// errors.
[[nodiscard]] Result<void> SendWithFileDescriptor(int socket, std::span<const std::byte> data, int fd,
                                                  const char* what);

// What ReceiveWithFileDescriptor got: how many bytes of the message, and the
// fd attached to it (empty when none came).
struct ReceivedMessage {
  std::size_t size = 0;
  UniqueFd fd;
};

// recvmsg(2) of one message into `into` (MSG_CMSG_CLOEXEC), retried on EINTR.
// Size 0 means the peer closed. Fds beyond the first are closed, never leaked.
[[nodiscard]] Result<ReceivedMessage> ReceiveWithFileDescriptor(int socket, std::span<std::byte> into,
                                                                const char* what);

// One fd and a single byte, for the polyfill's handover of a seccomp listener
// or a namespace. Receive: EPIPE when the peer closed, EBADMSG when no fd came.
[[nodiscard]] Result<void> SendFileDescriptor(int socket, int fd);
[[nodiscard]] Result<UniqueFd> ReceiveFileDescriptor(int socket);

}  // namespace mntns::sys
