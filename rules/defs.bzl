"""Public API of kthinlto: Bazel rules for the Linux kernel with distributed ThinLTO."""

load("//rules/private:image.bzl", _kernel_boot_image = "kernel_boot_image", _kernel_images = "kernel_images", _kernel_vmlinux = "kernel_vmlinux")
load("//rules/private:providers.bzl", _InitcallOrderInfo = "InitcallOrderInfo", _KernelObjectsInfo = "KernelObjectsInfo", _LlvmToolchainInfo = "LlvmToolchainInfo", _ThinLtoIndexInfo = "ThinLtoIndexInfo")
load("//rules/private:toolchain.bzl", _llvm_toolchain = "llvm_toolchain")
load("//rules/private:vmlinux_o.bzl", _kernel_vmlinux_o = "kernel_vmlinux_o")

kernel_vmlinux_o = _kernel_vmlinux_o
kernel_vmlinux = _kernel_vmlinux
kernel_boot_image = _kernel_boot_image
kernel_images = _kernel_images
llvm_toolchain = _llvm_toolchain

KernelObjectsInfo = _KernelObjectsInfo
ThinLtoIndexInfo = _ThinLtoIndexInfo
InitcallOrderInfo = _InitcallOrderInfo
LlvmToolchainInfo = _LlvmToolchainInfo
