// Module imgtool builds container images as docker tarballs without Docker or
// a registry (go-containerregistry), for `make image` and the local cluster.
module github.com/chathub/chathub/hack/imgtool

go 1.26.0

require (
	github.com/google/go-containerregistry v0.22.1 // indirect
	github.com/klauspost/compress v1.19.2 // indirect
	github.com/opencontainers/go-digest v1.0.0 // indirect
	github.com/opencontainers/image-spec v1.1.1 // indirect
)
