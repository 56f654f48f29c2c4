module mlkube.dev/bench/apiceiling

go 1.26
