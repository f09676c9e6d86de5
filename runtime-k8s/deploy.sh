#!/usr/bin/env bash
# Deploys one overlay of the shop with a given OCI artifact, waits for the rollout, then runs
# the migration Job. Used by CI (.circleci/config.yml, job deploy) and Ansible (roles/shop).
#
#   runtime-k8s/deploy.sh OVERLAY IMAGE
#     OVERLAY  all-in-one | split | external-stores
#     IMAGE    the artifact `spin registry push` wrote, e.g. <acct>.dkr.ecr.<region>.amazonaws.com/shop@sha256:<digest>
#
# Needs kubectl (>= 1.31, with kustomize) and a kubeconfig allowed to manage the namespace
# `shop` (the platform layer is applied only with SHOP_APPLY_PLATFORM=1: cluster-admin).
set -euo pipefail

overlay=${1:?usage: deploy.sh OVERLAY IMAGE}
image=${2:?usage: deploy.sh OVERLAY IMAGE}
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ns=shop
placeholder="registry.invalid/shop:set-by-ci"

case "$overlay" in
  all-in-one | split | external-stores) ;;
  *) echo "unknown overlay: $overlay" >&2; exit 2 ;;
esac
[[ "$image" =~ ^[a-z0-9.-]+(:[0-9]+)?/[a-z0-9._/-]+(:[A-Za-z0-9._-]+|@sha256:[0-9a-f]{64})$ ]] ||
  { echo "not an image reference: $image" >&2; exit 2; }

say() { printf '==> %s\n' "$*" >&2; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if [ "${SHOP_APPLY_PLATFORM:-0}" = 1 ]; then
  platform=platform
  [ "$overlay" = external-stores ] && platform=platform-rds-ca
  say "platform layer ($platform)"
  kubectl apply -k "$here/$platform"
fi

say "rendering overlays/$overlay with $image"
kubectl kustomize "$here/overlays/$overlay" > "$work/shop.yaml"
grep -q "image: $placeholder" "$work/shop.yaml" || { echo "placeholder image not found in the overlay" >&2; exit 1; }
sed -i "s#image: $placeholder#image: $image#" "$work/shop.yaml"

say "applying"
kubectl apply -f "$work/shop.yaml"

# In-cluster stores first (the overlays that have them): the migration must not race initdb.
# Their readiness probes pass only once the server accepts connections on its service address.
for sts in $(kubectl -n "$ns" get statefulsets -o name); do
  say "waiting for $sts"
  kubectl -n "$ns" rollout status "$sts" --timeout=600s
done

# The operator creates one Deployment per SpinApp, named after it.
apps=$(kubectl -n "$ns" get spinapps -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}')
for app in $apps; do
  say "waiting for the rollout of $app"
  kubectl -n "$ns" wait --for=create "deployment/$app" --timeout=180s
  kubectl -n "$ns" rollout status "deployment/$app" --timeout=600s
done

say "migrations (POST /admin/migrate)"
kubectl -n "$ns" delete job shop-migrate --ignore-not-found --wait=true
kubectl apply -k "$here/overlays/$overlay/migrate"
for _ in $(seq 1 120); do
  succeeded=$(kubectl -n "$ns" get job shop-migrate -o jsonpath='{.status.succeeded}')
  failed=$(kubectl -n "$ns" get job shop-migrate -o jsonpath='{.status.conditions[?(@.type=="Failed")].status}')
  if [ "${succeeded:-0}" -ge 1 ]; then
    kubectl -n "$ns" logs job/shop-migrate -c migrate --tail=20 || true
    say "deployed $image ($overlay)"
    exit 0
  fi
  if [ "$failed" = True ]; then
    kubectl -n "$ns" logs job/shop-migrate -c migrate --tail=50 || true
    echo "the migration Job failed" >&2
    exit 1
  fi
  sleep 5
done
echo "the migration Job did not finish in 10 minutes" >&2
exit 1
