# bash completion for rtev
_rtev() {
  local cur prev cmd
  cur=${COMP_WORDS[COMP_CWORD]}
  prev=${COMP_WORDS[COMP_CWORD-1]}
  cmd=${COMP_WORDS[1]}
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "serve --version --help" -- "$cur"))
    return
  fi
  case "$cmd" in
    serve)
      case "$prev" in
        --auth) COMPREPLY=($(compgen -W "none token jwt" -- "$cur")); return ;;
        --log-format) COMPREPLY=($(compgen -W "text json" -- "$cur")); return ;;
        --timezone) COMPREPLY=($(compgen -W "$(cd /usr/share/zoneinfo 2>/dev/null && find . -type f | sed 's|^\./||' | grep -v '^posix\|^right\|\.tab$\|^leapseconds\|^tzdata\|^SECURITY')" -- "$cur")); return ;;
        --db|--ready-file) COMPREPLY=($(compgen -f -- "$cur")); return ;;
      esac
      COMPREPLY=($(compgen -W "--host --port --ready-file --db --timezone --history-max-events --history-max-age --auth --jwt-secret --api-key --auth-timeout --ping-interval --ping-timeout --sse-heartbeat --max-message-bytes --rate-limit --rate-burst --max-connections --send-queue-max --cors-origin --log-format -v --verbose --help" -- "$cur"))
      ;;
  esac
}
complete -F _rtev rtev
