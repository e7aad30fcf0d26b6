"""Stand-in for @rules_cc on Bazel 4.2.3, whose built-in Java toolchains load it.

Bazel 4.2.3 would download rules_cc; nothing may be downloaded here, and
Debian's bazel-rules-cc is too new for 4.2.3.  Bazel 4's native C++ rules are
all that @bazel_tools needs.  Used only by WORKSPACE (Bazel 4), never by bzlmod.
"""

cc_binary = native.cc_binary
cc_import = native.cc_import
cc_library = native.cc_library
cc_proto_library = native.cc_proto_library
cc_test = native.cc_test
cc_toolchain = native.cc_toolchain
cc_toolchain_suite = native.cc_toolchain_suite
fdo_prefetch_hints = native.fdo_prefetch_hints
fdo_profile = native.fdo_profile
objc_import = native.objc_import
objc_library = native.objc_library
