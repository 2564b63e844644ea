# The kernel matrix: runs whole test binaries inside a QEMU VM booted on Debian's newest 7.x
# kernel (see tests/vm/README.md). Include after enable_testing(); then, per test binary:
#
#   mntns_add_vm_test(NAME <test-name> COMMAND <target-or-path> [<arg>...]
#                     [FILES <target-or-path>...] [ENV <NAME=VALUE>...] [TIMEOUT <seconds>])
#
# registers a CTest test (LABELS vm) that boots one VM and runs the binary there with its
# arguments; FILES are copied into the VM at their absolute host paths (e.g. the mntns CLI that
# tests exec). Targets may be given by name, also when they are defined after this call.
# The test passes or fails with the binary's exit status, fails when the VM cannot run (no
# qemu, no kernel, boot failure: the reason is in the output), and is reported as skipped
# (exit 77) when MNTNS_SKIP_VM=1 is set at test time.
include_guard(GLOBAL)

set(MNTNS_VM_RUN "${CMAKE_CURRENT_LIST_DIR}/mntns-vm-run" CACHE INTERNAL "")
set(MNTNS_VM_TIMEOUT 480 CACHE STRING
    "Seconds one VM boot may run before mntns-vm-run kills it (per test binary)")
set(MNTNS_VM_FETCH_TIMEOUT 900 CACHE STRING
    "Seconds the vm.prepare test may spend downloading the kernel")

# The first VM test also creates vm.prepare, a fixture that downloads the kernel and builds
# the init once, before any VM test and under its own (longer) timeout.
function(_mntns_vm_add_prepare_test)
  get_property(done GLOBAL PROPERTY _MNTNS_VM_PREPARE_ADDED)
  if(done)
    return()
  endif()
  set_property(GLOBAL PROPERTY _MNTNS_VM_PREPARE_ADDED TRUE)
  add_test(NAME vm.prepare COMMAND "${MNTNS_VM_RUN}" --prepare)
  set_tests_properties(vm.prepare PROPERTIES
    LABELS vm
    FIXTURES_SETUP mntns_vm_kernel
    SKIP_RETURN_CODE 77
    TIMEOUT ${MNTNS_VM_FETCH_TIMEOUT})
endfunction()

# A target name becomes $<TARGET_FILE:...>; a path (anything with a '/' or a generator
# expression) is used as given.
function(_mntns_vm_file out item)
  if(TARGET "${item}" OR NOT (item MATCHES "/" OR item MATCHES "^\\$<"))
    set(${out} "$<TARGET_FILE:${item}>" PARENT_SCOPE)
  else()
    set(${out} "${item}" PARENT_SCOPE)
  endif()
endfunction()

function(mntns_add_vm_test)
  cmake_parse_arguments(PARSE_ARGV 0 VM "" "NAME;TIMEOUT" "COMMAND;FILES;ENV")
  if(NOT VM_NAME OR NOT VM_COMMAND)
    message(FATAL_ERROR "mntns_add_vm_test: NAME and COMMAND are required")
  endif()
  if(VM_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "mntns_add_vm_test(${VM_NAME}): unknown arguments ${VM_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT VM_TIMEOUT)
    set(VM_TIMEOUT ${MNTNS_VM_TIMEOUT})
  endif()
  _mntns_vm_add_prepare_test()

  list(POP_FRONT VM_COMMAND program)
  _mntns_vm_file(program "${program}")
  set(options --timeout ${VM_TIMEOUT} --label ${VM_NAME})
  foreach(file IN LISTS VM_FILES)
    _mntns_vm_file(file "${file}")
    list(APPEND options --file "${file}")
  endforeach()
  foreach(env IN LISTS VM_ENV)
    list(APPEND options --env "${env}")
  endforeach()

  add_test(NAME ${VM_NAME} COMMAND "${MNTNS_VM_RUN}" ${options} -- "${program}" ${VM_COMMAND})
  # CTest's own timeout is a backstop; mntns-vm-run's comes first and names the test. The
  # margin covers packing the initramfs and a cache refresh when vm.prepare was not run.
  math(EXPR ctest_timeout "${VM_TIMEOUT} + 120")
  set_tests_properties(${VM_NAME} PROPERTIES
    LABELS vm
    FIXTURES_REQUIRED mntns_vm_kernel
    SKIP_RETURN_CODE 77
    TIMEOUT ${ctest_timeout}
    PROCESSORS 1)
endfunction()
