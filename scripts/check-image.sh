#!/usr/bin/env bash
# Checks the Docker image without a Docker daemon (there is none, and no registry for base images, on CI):
# it follows the Dockerfile itself. Every COPY copies into an empty temporary folder exactly what it names, every
# RUN of the build stage runs there, and the final stage's folder gets only what the Dockerfile copies into it.
# Then it starts the image's CMD from that folder as an unprivileged user (as USER does), with the image's ENV, a
# throwaway redis-server and a demo configuration, and waits for /healthz, /readyz and the admin's page to answer
# 200, and the HEALTHCHECK command to pass. So it fails when the image would miss a file (views, a JSON file, …)
# or need a dev dependency at run time (the final folder has only what `npm prune --omit=dev` left, and nothing
# above it to resolve modules from).
#
# Not covered: the base image itself (node:20-bookworm-slim is approximated by this machine's Node 20 and Debian),
# --chown (files stay root-owned and world-readable; the service writes nothing).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
dockerfile=${1:-Dockerfile}

work=$(mktemp -d /tmp/wxopen-image-check.XXXXXX)
chmod 755 "$work"
app_pid=''
redis_pid=''
cleanup() {
  for pid in $app_pid $redis_pid; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for pid in $app_pid $redis_pid; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "image check: $*" >&2; exit 1; }

# The build context: the files of a clean checkout (tracked, plus new files not ignored), never node_modules,
# dist or a developer's .env.
mkdir "$work/context"
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
  | tar --null -T - -cf - | tar -xf - -C "$work/context"

# The Dockerfile's instructions, one per line (continuations joined, comments dropped).
mapfile -t instructions < <(sed -e '/^[[:space:]]*#/d' "$dockerfile" | sed -e ':a' -e '/\\$/N; s/\\\n[[:space:]]*/ /; ta' | sed -e '/^[[:space:]]*$/d')

declare -A stage_root
stage=-1
root=''
workdir='/'
declare -a env_vars=()
cmd_json=''
healthcheck=''
user=''
in_stage() { echo "$root${1#/}"; }
resolve() { case $1 in /*) in_stage "$1" ;; *) in_stage "$workdir/$1" ;; esac; }

for line in "${instructions[@]}"; do
  read -r keyword rest <<<"$line"
  case ${keyword^^} in
    FROM)
      stage=$((stage + 1)); root="$work/stage-$stage/"; mkdir -p "$root"; workdir='/'; env_vars=(); user=''
      name=$(sed -nE 's/.* [Aa][Ss] +([^ ]+)$/\1/p' <<<"$rest")
      stage_root[$stage]=$root
      [ -n "$name" ] && stage_root[$name]=$root
      echo "-- stage $stage${name:+ ($name)}: $rest" ;;
    WORKDIR) workdir=$rest; mkdir -p "$(resolve "$rest")" ;;
    ENV) env_vars+=("${rest/ /=}") ;;
    USER) user=$rest ;;
    COPY)
      read -r -a args <<<"$rest"
      from=''; sources=()
      for a in "${args[@]}"; do
        case $a in --from=*) from=${a#--from=} ;; --*) ;; *) sources+=("$a") ;; esac
      done
      dest=${sources[-1]}; unset 'sources[-1]'
      target=$(resolve "$dest")
      if [ "${#sources[@]}" -gt 1 ] || [[ $dest == */ ]]; then mkdir -p "$target"; fi
      for src in "${sources[@]}"; do
        if [ -n "$from" ]; then origin="${stage_root[$from]:?unknown stage $from}${src#/}"; else origin="$work/context/$src"; fi
        [ -e "$origin" ] || fail "COPY $src: not found (${from:+stage $from}${from:-build context})"
        if [ -d "$origin" ]; then mkdir -p "$target"; cp -a "$origin/." "$target/"
        elif [ -d "$target" ]; then cp -a "$origin" "$target/"
        else mkdir -p "$(dirname "$target")"; cp -a "$origin" "$target"; fi
      done
      echo "   COPY ${from:+--from=$from }${sources[*]} -> $dest" ;;
    RUN)
      echo "   RUN $rest"
      (cd "$(resolve "$workdir")" && env "${env_vars[@]}" sh -c "$rest") || fail "RUN $rest: failed" ;;
    CMD) cmd_json=$rest ;;
    HEALTHCHECK) healthcheck=$(sed -nE 's/.*CMD +(.*)$/\1/p' <<<"$rest") ;;
    EXPOSE|LABEL|ARG|ENTRYPOINT|VOLUME|STOPSIGNAL|SHELL|ONBUILD) ;;
    *) fail "unsupported instruction: $keyword" ;;
  esac
done

image=$(resolve "$workdir")
[ -n "$cmd_json" ] || fail "no CMD"
mapfile -t cmd < <(node -e 'for (const a of JSON.parse(process.argv[1])) console.log(a)' "$cmd_json")
echo "-- the image's folder holds: $(cd "$image" && ls -A | tr '\n' ' ')"

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
redis_port=$(free_port)
app_port=$(free_port)
closed_port=$(free_port)   # WeChat's API is pointed at a closed loopback port: the check never calls out

mkdir "$work/redis"
setsid redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work/redis" >/dev/null 2>&1 &
redis_pid=$!
for _ in $(seq 1 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p "$redis_port" ping >/dev/null 2>&1 || fail "the throwaway redis-server did not start"

# USER <name>: the image's unprivileged user; here `nobody` (the image's own user does not exist on this machine).
run_as=()
if [ -n "$user" ] && [ "$user" != root ]; then run_as=(setpriv --reuid=nobody --regid=nogroup --clear-groups); fi
demo_env=(
  PATH=/usr/local/bin:/usr/bin:/bin HOME=/nonexistent "${env_vars[@]}"
  PORT="$app_port" PUBLIC_BASE_URL="http://localhost:$app_port" REDIS_URL="redis://127.0.0.1:$redis_port/0"
  WECHAT_COMPONENT_APPID=wxa5b0c1d2e3f40718 WECHAT_COMPONENT_APPSECRET=image-check-secret
  WECHAT_COMPONENT_TOKEN=imagechecktoken WECHAT_COMPONENT_AES_KEY=SandboxDemoEncodingAesKey0123456789abcdefgh
  WECHAT_API_BASE_URL="http://127.0.0.1:$closed_port" WECHAT_LOGIN_PAGE_URL="http://127.0.0.1:$closed_port/login"
  WECHAT_MOBILE_LOGIN_PAGE_URL="http://127.0.0.1:$closed_port/bind" REFRESHER_ENABLED=false
)
(cd "$image" && exec setsid "${run_as[@]}" env -i "${demo_env[@]}" "${cmd[@]}") >"$work/app.log" 2>&1 &
app_pid=$!

get() { curl -s -o "$work/body" -w '%{http_code}' --max-time 5 "http://127.0.0.1:$app_port$1" || true; }
status=''
for _ in $(seq 1 300); do
  kill -0 "$app_pid" 2>/dev/null || { tail -n 30 "$work/app.log" >&2; fail "${cmd[*]} exited before answering /healthz"; }
  status=$(get /healthz)
  [ "$status" = 200 ] && break
  sleep 0.1
done
[ "$status" = 200 ] || { tail -n 30 "$work/app.log" >&2; fail "/healthz never answered 200"; }
echo "-- /healthz 200"
for path in /readyz /authorize; do
  status=$(get "$path")
  [ "$status" = 200 ] || { cat "$work/body" >&2; tail -n 30 "$work/app.log" >&2; fail "GET $path answered $status"; }
  echo "-- $path 200"
done
grep -q 'id="authorize-form"' "$work/body" || fail "/authorize did not render its page"
if [ -n "$healthcheck" ]; then
  (cd "$image" && "${run_as[@]}" env -i "${demo_env[@]}" sh -c "$healthcheck") || fail "HEALTHCHECK failed: $healthcheck"
  echo "-- HEALTHCHECK passes"
fi
echo "image check: ok"
