//! Pagination shared by every listing: a limit/offset window in, items plus a total out.

/// A window into a listing. `limit` is clamped to [`Page::MAX_LIMIT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Maximum number of items to return.
    pub limit: u32,
    /// Number of matching items to skip.
    pub offset: u64,
}

impl Page {
    /// The largest page any listing returns.
    pub const MAX_LIMIT: u32 = 10_000;

    /// A page of `limit` items after skipping `offset`.
    pub const fn new(limit: u32, offset: u64) -> Self {
        Page { limit, offset }
    }

    pub(crate) fn sql_limit(self) -> i64 {
        i64::from(self.limit.min(Self::MAX_LIMIT))
    }

    pub(crate) fn sql_offset(self) -> i64 {
        i64::try_from(self.offset).unwrap_or(i64::MAX)
    }
}

impl Default for Page {
    /// The first 100 items.
    fn default() -> Self {
        Page::new(100, 0)
    }
}

/// One page of a listing and the number of items matching the filter across all pages.
#[derive(Debug, Clone, PartialEq)]
pub struct Paged<T> {
    /// The items in this page, in the listing's order.
    pub items: Vec<T>,
    /// How many items match the filter in total.
    pub total: u64,
}
