"""Public API of kthinlto: Bazel rules for the Linux kernel with distributed ThinLTO."""

load("//rules/private:dist.bzl", _kernel_dist = "kernel_dist")
load("//rules/private:image.bzl", _kernel_boot_image = "kernel_boot_image", _kernel_images = "kernel_images", _kernel_vmlinux = "kernel_vmlinux")
load("//rules/private:link_units.bzl", _kernel_link_unit = "kernel_link_unit", _kernel_link_units = "kernel_link_units")
load("//rules/private:modules.bzl", _kernel_modules = "kernel_modules")
load("//rules/private:providers.bzl", _ActionPythonInfo = "ActionPythonInfo", _KernelObjectsInfo = "KernelObjectsInfo", _LinkerScriptInfo = "LinkerScriptInfo", _LlvmToolchainInfo = "LlvmToolchainInfo", _ThinLtoIndexInfo = "ThinLtoIndexInfo", _kernel_object = "kernel_object")
load("//rules/private:schema.bzl", _decode = "decode")
load("//rules/private:toolchain.bzl", _llvm_toolchain = "llvm_toolchain")

kernel_decode = _decode
kernel_dist = _kernel_dist
kernel_link_units = _kernel_link_units
kernel_link_unit = _kernel_link_unit
kernel_object = _kernel_object
kernel_vmlinux = _kernel_vmlinux
kernel_boot_image = _kernel_boot_image
kernel_images = _kernel_images
kernel_modules = _kernel_modules
llvm_toolchain = _llvm_toolchain

KernelObjectsInfo = _KernelObjectsInfo
ThinLtoIndexInfo = _ThinLtoIndexInfo
LinkerScriptInfo = _LinkerScriptInfo
ActionPythonInfo = _ActionPythonInfo
LlvmToolchainInfo = _LlvmToolchainInfo
