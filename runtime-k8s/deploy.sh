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

# Third-party images are referenced by digest through this account's ECR pull-through cache
# (terraform/modules/registry): pull-through.invalid stands for the registry of the artifact.
registry="${image%%/*}"
render() {
  kubectl kustomize "$1" > "$2"
  if grep -q 'pull-through\.invalid/' "$2"; then
    [[ "$registry" =~ ^[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com$ ]] ||
      { echo "images come through the ECR pull-through cache, but $registry is not an ECR registry" >&2; exit 2; }
    sed -i "s#pull-through\.invalid/#${registry}/#g" "$2"
  fi
}

say "rendering overlays/$overlay with $image"
render "$here/overlays/$overlay" "$work/shop.yaml"
grep -q "image: $placeholder" "$work/shop.yaml" || { echo "placeholder image not found in the overlay" >&2; exit 1; }
sed -i "s#image: $placeholder#image: $image#" "$work/shop.yaml"

say "applying"
kubectl apply -f "$work/shop.yaml"
# A migrator left over by an interrupted deploy holds the schema owner's credentials: remove it.
kubectl -n "$ns" delete spinapp shop-migrator --ignore-not-found --wait=true

# In-cluster stores first (the overlays that have them): the migration must not race initdb.
# Their readiness probes pass only once the server accepts connections on its service address.
for sts in $(kubectl -n "$ns" get statefulsets -o name); do
  say "waiting for $sts"
  kubectl -n "$ns" rollout status "$sts" --timeout=600s
done

# Waypoints (split): istiod deploys one per Gateway of class istio-waypoint, named after it.
# Ready before any Service points at it.
waypoints=$(kubectl -n "$ns" get gateways.gateway.networking.k8s.io --ignore-not-found \
  -o jsonpath='{range .items[?(@.spec.gatewayClassName=="istio-waypoint")]}{.metadata.name}{"\n"}{end}')
for wp in $waypoints; do
  say "waiting for the waypoint $wp"
  kubectl -n "$ns" wait --for=create "deployment/$wp" --timeout=180s
  kubectl -n "$ns" rollout status "deployment/$wp" --timeout=300s
done

# The operator creates one Deployment and one Service per SpinApp, named after it. Istio reads
# the waypoint labels on the Service, which the operator does not let us set: copy them from
# the SpinApp (its server-side apply leaves labels it does not own alone).
apps=$(kubectl -n "$ns" get spinapps -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}')
for app in $apps; do
  say "waiting for the rollout of $app"
  kubectl -n "$ns" wait --for=create "deployment/$app" "service/$app" --timeout=180s
  mesh_labels=$(kubectl -n "$ns" get spinapp "$app" -o go-template='{{range $k, $v := .metadata.labels}}{{if or (eq $k "istio.io/use-waypoint") (eq $k "istio.io/ingress-use-waypoint")}}{{$k}}={{$v}} {{end}}{{end}}')
  if [ -n "$mesh_labels" ]; then
    # shellcheck disable=SC2086 # one word per label
    kubectl -n "$ns" label --overwrite "service/$app" $mesh_labels
  fi
  kubectl -n "$ns" rollout status "deployment/$app" --timeout=600s
done

say "migrations (POST /admin/migrate)"
kubectl -n "$ns" delete job shop-migrate --ignore-not-found --wait=true
render "$here/overlays/$overlay/migrate" "$work/migrate.yaml"
sed -i "s#image: $placeholder#image: $image#" "$work/migrate.yaml"
# First the SpinApp shop-migrator (the only pod with the schema owner's credentials, Secret
# shop-db-owner), ready before the Job; it is deleted however this script ends.
trap 'kubectl -n "$ns" delete spinapp shop-migrator --ignore-not-found --wait=false || true; rm -rf "$work"' EXIT
kubectl apply -f "$work/migrate.yaml" --selector 'app.kubernetes.io/name!=shop-migrate'
kubectl -n "$ns" wait --for=create deployment/shop-migrator --timeout=180s
kubectl -n "$ns" rollout status deployment/shop-migrator --timeout=600s
kubectl apply -f "$work/migrate.yaml" --selector app.kubernetes.io/name=shop-migrate
# A transient API error must not end the deploy (set -e): that round counts as not finished yet.
for _ in $(seq 1 120); do
  succeeded=$(kubectl -n "$ns" get job shop-migrate -o jsonpath='{.status.succeeded}') || succeeded=""
  failed=$(kubectl -n "$ns" get job shop-migrate -o jsonpath='{.status.conditions[?(@.type=="Failed")].status}') || failed=""
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
