/** The text of gateway/dicom/pixel-kernels.wasm.ts for the current kernel source. */
export function compileKernels(): string;
