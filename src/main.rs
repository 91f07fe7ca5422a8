fn main() {
    std::process::exit(plumb::run());
}
