//! `par_map`: a slice's items mapped on a few threads, results in the slice's order.

/// `f` of every item, on up to one thread per core (each takes a contiguous share), in the
/// items' order. Work that is the same for every item and CPU-bound only: the order of side
/// effects between items is not kept.
pub(crate) fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .min(items.len());
    if workers < 2 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(workers);
    let f = &f;
    std::thread::scope(|s| {
        let parts: Vec<_> = items
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(f).collect::<Vec<R>>()))
            .collect();
        parts
            .into_iter()
            .flat_map(|p| p.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_items_order() {
        for n in [0usize, 1, 2, 3, 7, 100] {
            let items: Vec<usize> = (0..n).collect();
            let got = par_map(&items, |i| i * 10);
            let want: Vec<usize> = items.iter().map(|i| i * 10).collect();
            assert_eq!(got, want, "{n} items");
        }
    }
}
