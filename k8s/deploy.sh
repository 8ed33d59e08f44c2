#!/usr/bin/env bash
# Deploy or roll back one overlay of MCP Gateway. Used by .github/workflows/deploy.yml and by hand.
#
#   k8s/deploy.sh deploy OVERLAY IMAGE   migrate, then roll out IMAGE (registry/name@sha256:...)
#   k8s/deploy.sh rollback OVERLAY       roll back to the image that ran before the last deploy
#
# Needs kubectl and kustomize on PATH and a kubeconfig for the target cluster. Before changing
# anything, `deploy` records the running image in the web Deployment's annotation
# mcp-gateway/previous-image; `rollback` re-deploys that image without running migrations.
set -euo pipefail

ROLLOUT_TIMEOUT="${ROLLOUT_TIMEOUT:-300s}"
MIGRATE_TIMEOUT_SECONDS="${MIGRATE_TIMEOUT_SECONDS:-900}"
PREVIOUS_ANNOTATION="mcp-gateway/previous-image"
WEB=deployment/mcp-gateway-web
WORKER=deployment/mcp-gateway-worker
MIGRATE=job/mcp-gateway-migrate

die() { echo "deploy.sh: $*" >&2; exit 1; }

usage() { sed -n '2,9p' "$0" >&2; exit 64; }

overlay_dir() {
  local dir
  dir="$(dirname "$0")/overlays/$1"
  [ -f "$dir/kustomization.yaml" ] || die "no overlay named '$1' in $(dirname "$0")/overlays"
  echo "$dir"
}

namespace_of() { sed -n 's/^namespace: *//p' "$1/kustomization.yaml"; }

running_image() {
  kubectl -n "$1" get "$WEB" --ignore-not-found \
    -o jsonpath='{.spec.template.spec.containers[0].image}'
}

set_image() {
  (cd "$1" && kustomize edit set image "mcp-gateway=$2")
}

# Apply everything but the web and worker objects (namespace, config, policies, the Job), then
# wait for the migration Job to finish. The previous Job is deleted first: a Job's pod template is
# immutable, so it cannot be re-applied with a new image.
migrate() {
  local dir="$1" ns="$2" waited=0 conditions
  kubectl -n "$ns" delete "$MIGRATE" --ignore-not-found --wait=true
  kubectl apply -k "$dir" -l 'app.kubernetes.io/component notin (web,worker)'
  while [ "$waited" -lt "$MIGRATE_TIMEOUT_SECONDS" ]; do
    conditions="$(kubectl -n "$ns" get "$MIGRATE" \
      -o jsonpath='{.status.conditions[?(@.status=="True")].type}')"
    case "$conditions" in
      *Complete*) echo "migrations applied"; return 0 ;;
      *Failed*) kubectl -n "$ns" logs "$MIGRATE" --tail=100 || true; die "migration Job failed" ;;
    esac
    sleep 5
    waited=$((waited + 5))
  done
  kubectl -n "$ns" logs "$MIGRATE" --tail=100 || true
  die "migration Job did not finish within ${MIGRATE_TIMEOUT_SECONDS}s"
}

# Apply all objects except the migration Job and wait until both Deployments have rolled out.
roll_out() {
  local dir="$1" ns="$2"
  kubectl apply -k "$dir" -l 'app.kubernetes.io/component!=migrate'
  kubectl -n "$ns" rollout status "$WEB" --timeout="$ROLLOUT_TIMEOUT"
  kubectl -n "$ns" rollout status "$WORKER" --timeout="$ROLLOUT_TIMEOUT"
}

deploy() {
  local dir ns image="$2" previous
  dir="$(overlay_dir "$1")"
  ns="$(namespace_of "$dir")"
  case "$image" in
    *@sha256:*) ;;
    *) die "IMAGE must be pinned by digest (name@sha256:...), got '$image'" ;;
  esac
  previous="$(running_image "$ns" || true)"
  if [ -n "$previous" ]; then
    kubectl -n "$ns" annotate "$WEB" --overwrite "$PREVIOUS_ANNOTATION=$previous"
  fi
  set_image "$dir" "$image"
  migrate "$dir" "$ns"
  roll_out "$dir" "$ns"
  echo "deployed $image to $ns (previous: ${previous:-none})"
}

rollback() {
  local dir ns previous
  dir="$(overlay_dir "$1")"
  ns="$(namespace_of "$dir")"
  previous="$(kubectl -n "$ns" get "$WEB" \
    -o jsonpath="{.metadata.annotations.$PREVIOUS_ANNOTATION}" 2>/dev/null || true)"
  [ -n "$previous" ] || die "no $PREVIOUS_ANNOTATION annotation in $ns: nothing to roll back to"
  echo "rolling back $ns to $previous (migrations are not reverted)"
  set_image "$dir" "$previous"
  roll_out "$dir" "$ns"
}

case "${1:-}" in
  deploy) [ "$#" -eq 3 ] || usage; deploy "$2" "$3" ;;
  rollback) [ "$#" -eq 2 ] || usage; rollback "$2" ;;
  *) usage ;;
esac
