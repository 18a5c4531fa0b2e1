// Command imgbuild is the lab's image builder: with no Docker engine here, it assembles OCI
// images from layer tarballs the lab prepares and pushes them to the lab's mirror registry.
//
// Usage: imgbuild SPEC.json [SPEC.json ...]
//
// Each spec names the image reference, an optional base image (already in the registry), the
// layers (uncompressed tar files) and the config (entrypoint, cmd, env, user, workdir, labels).
// The pushed tag points to an OCI image index with one manifest per platform, the shape upstream
// publishes, so tools that narrow multi-arch indexes see the real thing. Config "created" is a
// fixed date so that the same inputs give the same digest. On success it prints "REF DIGEST".
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

type spec struct {
	Ref        string            `json:"ref"`
	Base       string            `json:"base,omitempty"`
	Arch       string            `json:"arch,omitempty"`
	Layers     []string          `json:"layers"`
	Entrypoint []string          `json:"entrypoint,omitempty"`
	Cmd        []string          `json:"cmd,omitempty"`
	Env        []string          `json:"env,omitempty"`
	User       string            `json:"user,omitempty"`
	WorkingDir string            `json:"workdir,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
}

var created = v1.Time{Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}

func baseImage(s spec, platform v1.Platform) (v1.Image, error) {
	if s.Base == "" {
		img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
		return mutate.ConfigMediaType(img, types.OCIConfigJSON), nil
	}
	ref, err := name.ParseReference(s.Base, name.Insecure)
	if err != nil {
		return nil, fmt.Errorf("base %q: %w", s.Base, err)
	}
	return remote.Image(ref, remote.WithPlatform(platform))
}

func build(s spec) (string, error) {
	if s.Arch == "" {
		s.Arch = "amd64"
	}
	platform := v1.Platform{OS: "linux", Architecture: s.Arch}
	img, err := baseImage(s, platform)
	if err != nil {
		return "", err
	}
	for _, path := range s.Layers {
		layer, err := tarball.LayerFromFile(path, tarball.WithMediaType(types.OCILayer))
		if err != nil {
			return "", fmt.Errorf("layer %s: %w", path, err)
		}
		if img, err = mutate.AppendLayers(img, layer); err != nil {
			return "", fmt.Errorf("layer %s: %w", path, err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return "", err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Created = platform.OS, platform.Architecture, created
	cfg := &cf.Config
	if s.Entrypoint != nil {
		cfg.Entrypoint, cfg.Cmd = s.Entrypoint, nil
	}
	if s.Cmd != nil {
		cfg.Cmd = s.Cmd
	}
	if s.Env != nil {
		cfg.Env = s.Env
	}
	if s.User != "" {
		cfg.User = s.User
	}
	if s.WorkingDir != "" {
		cfg.WorkingDir = s.WorkingDir
	}
	if len(s.Labels) > 0 && cfg.Labels == nil {
		cfg.Labels = map[string]string{}
	}
	for k, v := range s.Labels {
		cfg.Labels[k] = v
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return "", err
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
		Add:        img,
		Descriptor: v1.Descriptor{Platform: &platform},
	})
	ref, err := name.ParseReference(s.Ref, name.Insecure)
	if err != nil {
		return "", fmt.Errorf("ref %q: %w", s.Ref, err)
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		return "", fmt.Errorf("push %s: %w", s.Ref, err)
	}
	digest, err := idx.Digest()
	if err != nil {
		return "", err
	}
	return digest.String(), nil
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: imgbuild SPEC.json [SPEC.json ...]")
		os.Exit(2)
	}
	for _, path := range os.Args[1:] {
		data, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "imgbuild: %v\n", err)
			os.Exit(1)
		}
		var s spec
		if err := json.Unmarshal(data, &s); err != nil {
			fmt.Fprintf(os.Stderr, "imgbuild: %s: %v\n", path, err)
			os.Exit(1)
		}
		digest, err := build(s)
		if err != nil {
			fmt.Fprintf(os.Stderr, "imgbuild: %s: %v\n", s.Ref, err)
			os.Exit(1)
		}
		fmt.Printf("%s %s\n", s.Ref, digest)
	}
}
