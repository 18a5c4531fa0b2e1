#!/usr/bin/env bash
# Fallback while Calico is blocked (README.md, "Fallback evaluation"):
# flanneld (vxlan) + kube-router used as NetworkPolicy controller only.
#
# usage: build-fallback.sh OUTDIR
# env:   FLANNEL_VERSION (default v0.28.10), KUBE_ROUTER_VERSION (default v2.1.0),
#        LAB_CACHE (default ~/.cache/airgap-lab)
# Writes our go.mod and a stub module into the cache dir, never into the repo.
# Static binaries; idempotent.
set -euo pipefail

OUT=${1:?usage: build-fallback.sh OUTDIR}
FV=${FLANNEL_VERSION:-v0.28.10}
KV=${KUBE_ROUTER_VERSION:-v2.1.0}
CACHE=${LAB_CACHE:-$HOME/.cache/airgap-lab}
export GOFLAGS=-mod=mod GOTOOLCHAIN=${GOTOOLCHAIN:-local}
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)

# --- kube-router: no replace lines upstream, so go install of the tagged module works.
if [ "$(cat "$OUT/.kube-router-stamp" 2>/dev/null)" != "$KV" ] || [ ! -x "$OUT/kube-router" ]; then
  CGO_ENABLED=0 GOBIN="$OUT" go install -trimpath \
    -ldflags "-s -w -X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=$KV" \
    "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router@$KV"
  echo "$KV" > "$OUT/.kube-router-stamp"
fi

# --- flanneld: main imports the tencent-vpc backend, whose SDK module
#     (github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/vpc) the proxy does not
#     serve. Our stub satisfies the compiler; that backend fails at run time.
if [ "$(cat "$OUT/.flanneld-stamp" 2>/dev/null)" != "$FV" ] || [ ! -x "$OUT/flanneld" ]; then
  W=$CACHE/flannel-build-$FV
  mkdir -p "$W/stub-tencentvpc/v20170312"
  cat > "$W/stub-tencentvpc/go.mod" <<'GOMOD'
module github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/vpc

go 1.21
GOMOD
  cat > "$W/stub-tencentvpc/v20170312/stub.go" <<'GO'
// Package v20170312 is a lab stub standing in for the Tencent Cloud VPC SDK, which
// the module proxy does not serve. It lets flanneld compile; the tencent-vpc
// backend then fails at run time. The lab uses the vxlan backend.
package v20170312

import "errors"

var errStub = errors.New("tencent-vpc backend is not available in this build")

type Filter struct {
	Name   *string
	Values []*string
}

type Route struct {
	DestinationCidrBlock *string
	GatewayType          *string
	GatewayId            *string
	RouteId              *uint64
	RouteType            *string
	Enabled              *bool
}

type RouteTable struct {
	RouteTableId *string
	RouteSet     []*Route
}

type DescribeRouteTablesRequest struct{ Filters []*Filter }

type DescribeRouteTablesResponse struct {
	Response *struct{ RouteTableSet []*RouteTable }
}

type DeleteRoutesRequest struct {
	RouteTableId *string
	Routes       []*Route
}

type DeleteRoutesResponse struct{}

type CreateRoutesRequest struct {
	RouteTableId *string
	Routes       []*Route
}

type CreateRoutesResponse struct{}

type Client struct{}

func NewClientWithSecretId(id, key, region string) (*Client, error) { return nil, errStub }

func NewDescribeRouteTablesRequest() *DescribeRouteTablesRequest {
	return &DescribeRouteTablesRequest{}
}
func NewDeleteRoutesRequest() *DeleteRoutesRequest { return &DeleteRoutesRequest{} }
func NewCreateRoutesRequest() *CreateRoutesRequest { return &CreateRoutesRequest{} }

func (c *Client) DescribeRouteTables(*DescribeRouteTablesRequest) (*DescribeRouteTablesResponse, error) {
	return nil, errStub
}
func (c *Client) DeleteRoutes(*DeleteRoutesRequest) (*DeleteRoutesResponse, error) {
	return nil, errStub
}
func (c *Client) CreateRoutes(*CreateRoutesRequest) (*CreateRoutesResponse, error) {
	return nil, errStub
}
GO
  cat > "$W/go.mod.new" <<GOMOD
module lab.local/flannel-build

go 1.26.0

require github.com/flannel-io/flannel $FV

replace github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/vpc => ./stub-tencentvpc
GOMOD
  cat > "$W/tools.go" <<'GO'
//go:build tools

package tools

import _ "github.com/flannel-io/flannel"
GO
  if ! cmp -s "$W/go.mod.new" "$W/go.mod"; then
    mv "$W/go.mod.new" "$W/go.mod"; rm -f "$W/go.sum"; (cd "$W" && go mod tidy)
  else
    rm -f "$W/go.mod.new"
  fi
  # cgo: on amd64 the udp backend is C (upstream builds amd64 with CGO_ENABLED=1).
  (cd "$W" && CGO_ENABLED=1 go build -trimpath -tags netgo,osusergo \
    -ldflags "-s -w -X github.com/flannel-io/flannel/pkg/version.Version=$FV -extldflags -static" \
    -o "$OUT/flanneld" github.com/flannel-io/flannel)
  echo "$FV" > "$OUT/.flanneld-stamp"
fi
ls -l "$OUT/flanneld" "$OUT/kube-router"
