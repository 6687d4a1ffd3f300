//! The process-wide allocator: the system's, except that every block is wiped before
//! it goes back. Zeroizing types wipe the secrets they own; this wipes the copies they
//! do not own: HTTP read buffers, a `String` that grew while a secret was written into
//! it, a library's temporary. Freed memory holds no secret, whoever freed it.
//!
//! `realloc` never lets the system resize in place: glibc would free the old block (or
//! the tail of a shrunk one) unwiped. It allocates, copies, wipes and frees instead.

use std::alloc::{GlobalAlloc, Layout, System};

/// Wipes every block before handing it back to `A` (the system allocator in use).
pub struct WipeOnFree<A = System>(pub A);

/// Zeroes `len` bytes at `ptr` in a way the optimiser cannot drop, although the memory
/// is freed right after (a plain memset before `free` is a dead store to LLVM).
///
/// # Safety
/// `ptr` must be valid for writes of `len` bytes.
#[inline]
unsafe fn wipe(ptr: *mut u8, len: usize) {
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    {
        // SAFETY: the caller's promise.
        unsafe { std::ptr::write_bytes(ptr, 0, len) };
        // An empty asm block that may read the memory behind `ptr`: the stores above must
        // happen before it. A vectorised memset, where `zeroize`'s volatile writes go a
        // byte at a time; the same guarantee.
        // SAFETY: the block does nothing.
        unsafe { std::arch::asm!("/* {0} */", in(reg) ptr, options(nostack, preserves_flags, readonly)) };
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        use zeroize::Zeroize;
        // SAFETY: the caller's promise.
        unsafe { std::slice::from_raw_parts_mut(ptr, len) }.zeroize();
    }
}

// SAFETY: every block comes from `A` and goes back to it with its layout.
unsafe impl<A: GlobalAlloc> GlobalAlloc for WipeOnFree<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's layout.
        unsafe { self.0.alloc(layout) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's layout.
        unsafe { self.0.alloc_zeroed(layout) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` is a live block of `layout.size()` bytes.
        unsafe {
            wipe(ptr, layout.size());
            self.0.dealloc(ptr, layout);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `GlobalAlloc::realloc`'s contract: the new layout is valid.
        unsafe {
            let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
            let new = self.0.alloc(new_layout);
            if !new.is_null() {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            new
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    thread_local! {
        /// What the inner allocator saw given back: (size, whether every byte was 0).
        static FREED: RefCell<Vec<(usize, bool)>> = const { RefCell::new(Vec::new()) };
    }

    /// The system allocator, recording whether each block came back wiped.
    struct Checking;

    // SAFETY: System's blocks, passed through.
    unsafe impl GlobalAlloc for Checking {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            unsafe { System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            let wiped = (0..layout.size()).all(|i| unsafe { *ptr.add(i) } == 0);
            FREED.with(|f| f.borrow_mut().push((layout.size(), wiped)));
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    #[test]
    fn every_block_goes_back_wiped_and_realloc_never_resizes_in_place() {
        let a = WipeOnFree(Checking);
        let small = Layout::from_size_align(64, 8).unwrap();
        // SAFETY: blocks of our own, used within their sizes.
        unsafe {
            let p = a.alloc(small);
            std::ptr::write_bytes(p, 0xAB, 64);
            // Growing and shrinking both move: the old block is wiped, then freed.
            let q = a.realloc(p, small, 4096);
            assert!((0..64).all(|i| *q.add(i) == 0xAB), "the contents move");
            std::ptr::write_bytes(q, 0xCD, 4096);
            let r = a.realloc(q, Layout::from_size_align(4096, 8).unwrap(), 32);
            assert!((0..32).all(|i| *r.add(i) == 0xCD));
            a.dealloc(r, Layout::from_size_align(32, 8).unwrap());
        }
        FREED.with(|f| assert_eq!(*f.borrow(), [(64, true), (4096, true), (32, true)]));
    }
}
