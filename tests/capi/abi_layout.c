/* Prints the layout of every public struct of mntns.h, as the ABI record
 * (tests/capi/mntns-c.abi) lists it: "struct NAME SIZE ALIGN" and
 * "field NAME.MEMBER OFFSET SIZE". Built as strict C11 (-pedantic-errors),
 * so it also proves that the header is C11 and nothing else.
 * A member added to a struct changes its size; list the member here too. */
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>

#include <mntns/mntns.h>

#define STRUCT(type) printf("struct %s %zu %zu\n", #type, sizeof(struct type), alignof(struct type))
#define FIELD(type, member) \
  printf("field %s.%s %zu %zu\n", #type, #member, offsetof(struct type, member), sizeof(((struct type *)0)->member))

int main(void) {
  STRUCT(mntns_features);
  FIELD(mntns_features, size);
  FIELD(mntns_features, reserved);
  FIELD(mntns_features, present);
  FIELD(mntns_features, known);
  FIELD(mntns_features, kernel);

  STRUCT(mntns_mount_info);
  FIELD(mntns_mount_info, size);
  FIELD(mntns_mount_info, derived);
  FIELD(mntns_mount_info, mask);
  FIELD(mntns_mount_info, sb_dev_major);
  FIELD(mntns_mount_info, sb_dev_minor);
  FIELD(mntns_mount_info, sb_magic);
  FIELD(mntns_mount_info, sb_flags);
  FIELD(mntns_mount_info, old_id);
  FIELD(mntns_mount_info, id);
  FIELD(mntns_mount_info, parent_id);
  FIELD(mntns_mount_info, old_parent_id);
  FIELD(mntns_mount_info, reserved);
  FIELD(mntns_mount_info, attr);
  FIELD(mntns_mount_info, propagation);
  FIELD(mntns_mount_info, peer_group);
  FIELD(mntns_mount_info, master);
  FIELD(mntns_mount_info, propagate_from);
  FIELD(mntns_mount_info, ns_id);
  FIELD(mntns_mount_info, supported_mask);

  STRUCT(mntns_query);
  FIELD(mntns_query, size);
  FIELD(mntns_query, ns_kind);
  FIELD(mntns_query, ns_id);
  FIELD(mntns_query, ns_fd);
  FIELD(mntns_query, pid);
  FIELD(mntns_query, ns_path);
  FIELD(mntns_query, mask);
  FIELD(mntns_query, backend);
  FIELD(mntns_query, reserved);
  return fflush(stdout) == 0 ? 0 : 1;
}
