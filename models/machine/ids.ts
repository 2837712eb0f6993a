/**
 * Branded ids, so that a physical frame number, a virtual page number, an mm and a CPU cannot be
 * mixed up by accident. They are plain numbers at run time (JSON-serialisable).
 */
export type Pfn = number & { readonly __brand: 'Pfn' };
/** A virtual page number inside one mm: 0 .. pmdsPerMm * ptrsPerPte - 1. */
export type Vpn = number & { readonly __brand: 'Vpn' };
export type MmId = number & { readonly __brand: 'MmId' };
export type CpuId = number & { readonly __brand: 'CpuId' };
/** A GUP handle: the pages array a get_user_pages()/pin_user_pages() caller holds. */
export type HandleId = number & { readonly __brand: 'HandleId' };

export const pfn = (n: number): Pfn => n as Pfn;
export const vpn = (n: number): Vpn => n as Vpn;
export const mmId = (n: number): MmId => n as MmId;
export const cpuId = (n: number): CpuId => n as CpuId;
export const handleId = (n: number): HandleId => n as HandleId;
