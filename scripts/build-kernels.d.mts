/** The text of gateway/protection/segmentation/pixel-kernels.wasm.ts for the current kernel source. */
export function compileKernels(): string;
