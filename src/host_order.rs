//! `order` (a play keyword): the order a play's hosts are listed, batched (`serial`) and
//! started in, as in Ansible.

use crate::error::{Error, Result};
use crate::yaml::Doc;
use marked_yaml::Node;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum HostOrder {
    /// As the inventory lists them.
    #[default]
    Inventory,
    ReverseInventory,
    /// By name.
    Sorted,
    ReverseSorted,
    /// A new random order each run.
    Shuffle,
}

const NAMES: &[(&str, HostOrder)] = &[
    ("inventory", HostOrder::Inventory),
    ("reverse_inventory", HostOrder::ReverseInventory),
    ("sorted", HostOrder::Sorted),
    ("reverse_sorted", HostOrder::ReverseSorted),
    ("shuffle", HostOrder::Shuffle),
];

impl HostOrder {
    pub(crate) fn parse(doc: &Doc, node: &Node) -> Result<HostOrder> {
        let s = crate::task_values::scalar_string(doc, node, "order")?;
        NAMES
            .iter()
            .find(|(n, _)| *n == s)
            .map(|(_, o)| *o)
            .ok_or_else(|| {
                Error::input(doc.loc(node), format!("`order: {s}` is not an order")).with_hint(
                    "`inventory`, `reverse_inventory`, `sorted`, `reverse_sorted` or `shuffle`",
                )
            })
    }

    /// Puts `hosts` (in inventory order) in this order; `seed` drives `shuffle`.
    pub(crate) fn arrange<T>(self, hosts: &mut [T], name: impl Fn(&T) -> &str, seed: u64) {
        match self {
            HostOrder::Inventory => {}
            HostOrder::ReverseInventory => hosts.reverse(),
            HostOrder::Sorted => hosts.sort_by(|a, b| name(a).cmp(name(b))),
            HostOrder::ReverseSorted => hosts.sort_by(|a, b| name(b).cmp(name(a))),
            HostOrder::Shuffle => {
                // Fisher-Yates on a xorshift stream: no cryptographic need here.
                let mut x = seed | 1;
                for i in (1..hosts.len()).rev() {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    hosts.swap(i, (x % (i as u64 + 1)) as usize);
                }
            }
        }
    }

    /// A seed that differs from run to run, for `shuffle`.
    pub(crate) fn seed() -> u64 {
        use std::hash::{BuildHasher, Hasher};
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arranged(order: HostOrder, seed: u64) -> String {
        let mut hosts = vec!["web2", "db", "web10", "app"];
        order.arrange(&mut hosts, |h| h, seed);
        hosts.join(" ")
    }

    #[test]
    fn orders() {
        let table = [
            (HostOrder::Inventory, "web2 db web10 app"),
            (HostOrder::ReverseInventory, "app web10 db web2"),
            (HostOrder::Sorted, "app db web10 web2"),
            (HostOrder::ReverseSorted, "web2 web10 db app"),
        ];
        for (o, want) in table {
            assert_eq!(arranged(o, 0), want, "{o:?}");
        }
        // A shuffle is a permutation, and not always the same one.
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..20 {
            let s = arranged(HostOrder::Shuffle, seed);
            let mut words: Vec<&str> = s.split(' ').collect();
            words.sort();
            assert_eq!(words.join(" "), "app db web10 web2");
            seen.insert(s);
        }
        assert!(seen.len() > 1, "{seen:?}");
    }

    #[test]
    fn unknown_order_is_an_error_at_its_value() {
        let doc = Doc::parse("p.yml".into(), "order: random\n", false).unwrap();
        let Node::Mapping(m) = &doc.root else {
            unreachable!()
        };
        let e = HostOrder::parse(&doc, m.get_node("order").unwrap()).unwrap_err();
        assert_eq!(e.to_string(), "`order: random` is not an order");
        let doc = Doc::parse("p.yml".into(), "order: reverse_sorted\n", false).unwrap();
        let Node::Mapping(m) = &doc.root else {
            unreachable!()
        };
        assert_eq!(
            HostOrder::parse(&doc, m.get_node("order").unwrap()).unwrap(),
            HostOrder::ReverseSorted
        );
    }
}
