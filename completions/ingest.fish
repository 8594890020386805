# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_ingest_global_optspecs
    string join \n store= spool= s3-addressing= json q/quiet progress= wait-lock= name= L/follow exclude= max-depth= no-cache dry-run sync= content-type= sha256= max-size= allow= deny= clamd= scan-fail-open scan-timeout= h/help V/version
end

function __fish_ingest_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_ingest_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_ingest_using_subcommand
    set -l cmd (__fish_ingest_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c ingest -n "__fish_ingest_needs_command" -l store -d 'The store: a directory, or s3://BUCKET/PREFIX. Default: $XDG_DATA_HOME/ingest, else ~/.local/share/ingest' -r -F
complete -c ingest -n "__fish_ingest_needs_command" -l spool -d 'S3 stores: where inputs over 64 KiB wait, hashed, for their upload (smaller ones wait in memory). Default: the cache folder ($XDG_CACHE_HOME/ingest, else ~/.cache/ingest)' -r -F
complete -c ingest -n "__fish_ingest_needs_command" -l s3-addressing -d 'S3 stores: path-style (endpoint/bucket/key) or virtual-hosted (bucket.endpoint/key) requests. Default: path with AWS_ENDPOINT_URL, else virtual' -r -f -a "path\t''
virtual\t''"
complete -c ingest -n "__fish_ingest_needs_command" -l progress -d 'When to draw progress bars on stderr (auto: only on a terminal)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ingest -n "__fish_ingest_needs_command" -l wait-lock -d 'How long to wait for another ingest\'s lock on the store before giving up (exit 1)' -r
complete -c ingest -n "__fish_ingest_needs_command" -l name -d 'The name recorded for standard input [default: -]' -r
complete -c ingest -n "__fish_ingest_needs_command" -l exclude -d 'Skip paths matching GLOB, relative to the directory walked; a pattern without `/` matches at any depth, `**` spans folders. Repeatable' -r
complete -c ingest -n "__fish_ingest_needs_command" -l max-depth -d 'Descend at most N levels below each directory named' -r
complete -c ingest -n "__fish_ingest_needs_command" -l sync -d 'When objects are made durable, always before their manifest lines: a batch at a time by syncing its own files and folders side by side (group, the default; a lone input on its own), each one alone (file), or a batch at a time by one syncfs of the whole filesystem (batch: as fast as group on a quiet machine, slower when others write, since it flushes their data too)' -r -f -a "group\t''
file\t''
batch\t''"
complete -c ingest -n "__fish_ingest_needs_command" -l content-type -d 'The type the source declared (an MMS part\'s ct); kept as declared_mime when the bytes say otherwise' -r
complete -c ingest -n "__fish_ingest_needs_command" -l sha256 -d 'The SHA-256 the input must have (one input only), or it is rejected' -r
complete -c ingest -n "__fish_ingest_needs_command" -l max-size -d 'Reject inputs larger than SIZE (500K, 100M, 2G), reading no further' -r
complete -c ingest -n "__fish_ingest_needs_command" -l allow -d 'Let in only sniffed types matching PATTERN (image/*, video/mp4). Repeatable' -r
complete -c ingest -n "__fish_ingest_needs_command" -l deny -d 'Reject sniffed types matching PATTERN; wins over --allow. Repeatable' -r
complete -c ingest -n "__fish_ingest_needs_command" -l clamd -d 'Scan with ClamAV: a clamd unix socket path, or tcp://HOST:PORT' -r
complete -c ingest -n "__fish_ingest_needs_command" -l scan-timeout -d 'How long to wait for clamd at each step before the scan fails [default: 30]' -r
complete -c ingest -n "__fish_ingest_needs_command" -l json -d 'Print JSON lines instead of text (each command says what it prints)'
complete -c ingest -n "__fish_ingest_needs_command" -s q -l quiet -d 'Print nothing but errors'
complete -c ingest -n "__fish_ingest_needs_command" -s L -l follow -d 'Follow symbolic links met inside a walked directory (links named on the command line are always followed)'
complete -c ingest -n "__fish_ingest_needs_command" -l no-cache -d 'Read every file again instead of trusting the files cache'
complete -c ingest -n "__fish_ingest_needs_command" -l dry-run -d 'Hash, sniff and report what would happen; write nothing to the store'
complete -c ingest -n "__fish_ingest_needs_command" -l scan-fail-open -d 'Store inputs unscanned (with a warning, "scanned": false) when clamd fails, instead of failing them'
complete -c ingest -n "__fish_ingest_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ingest -n "__fish_ingest_needs_command" -s V -l version -d 'Print version'
complete -c ingest -n "__fish_ingest_needs_command" -a "add" -d 'Store files, or standard input given as `-` (the default command)'
complete -c ingest -n "__fish_ingest_needs_command" -a "mms" -d 'Store every attachment in SMS Backup & Restore backups (XML, or gzip-compressed XML), streaming, in constant memory'
complete -c ingest -n "__fish_ingest_needs_command" -a "ls" -d 'List the manifest\'s entries, oldest first'
complete -c ingest -n "__fish_ingest_needs_command" -a "cat" -d 'Write an object to standard output, checking its hash as it goes'
complete -c ingest -n "__fish_ingest_needs_command" -a "rm" -d 'Remove entries from the manifest, then the objects no remaining entry (nor the trash) names. Entries are picked by hash (or a unique prefix of 6+ hex digits), by id and by the filters of `ls`; at least one must be given. Prints each entry removed. Writers wait while it runs, and a crash leaves the store as it was before or after, never between'
complete -c ingest -n "__fish_ingest_needs_command" -a "export" -d 'Write entries into DEST under their recorded names, made safe'
complete -c ingest -n "__fish_ingest_needs_command" -a "verify" -d 'Check the store: re-hash every object, match the manifest against the objects, find orphans and leftovers. Exit 0 when clean, 1 otherwise'
complete -c ingest -n "__fish_ingest_needs_command" -a "gc" -d 'Remove temp files left by crashed runs (older than an hour), with --orphans the objects no manifest line names, and on S3 the multipart uploads never completed (older than a day)'
complete -c ingest -n "__fish_ingest_needs_command" -a "stats" -d 'Count objects, bytes, entries, what deduplication saved, and types'
complete -c ingest -n "__fish_ingest_needs_command" -a "copy" -d 'Copy the store SRC into DEST (each a directory or s3://BUCKET/PREFIX), object by object, checking each hash, skipping what DEST has; then the manifest entries. How a store moves to a bucket, or back'
complete -c ingest -n "__fish_ingest_needs_command" -a "serve" -d 'Serve the store over HTTP: uploads go through the same pass as `ingest add` (hash, sniff, policy, clamd, fsync, manifest), and entries and objects can be read back. Every endpoint but /v1/health needs a token (`ingest token add NAME`)'
complete -c ingest -n "__fish_ingest_needs_command" -a "token" -d 'Manage the tokens `ingest serve` accepts'
complete -c ingest -n "__fish_ingest_needs_command" -a "block" -d 'Manage the store\'s block list: bytes every front end refuses (`blocked` in the store\'s config.json; `ingest rm --block` adds to it)'
complete -c ingest -n "__fish_ingest_needs_command" -a "uploads" -d 'The resumable (tus) uploads under way on this machine\'s server: token, name, bytes so far of the whole, and how long idle. `gc` removes those untouched for a day (`serve --partial-expiry`)'
complete -c ingest -n "__fish_ingest_needs_command" -a "trash" -d 'What was removed to the trash (by the page, the API or `rm --trash`): list it, restore from it, empty it. `gc` empties what is older than the store\'s `trash_days` (30 by default)'
complete -c ingest -n "__fish_ingest_needs_command" -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ingest -n "__fish_ingest_using_subcommand add" -l name -d 'The name recorded for standard input [default: -]' -r
complete -c ingest -n "__fish_ingest_using_subcommand add" -l exclude -d 'Skip paths matching GLOB, relative to the directory walked; a pattern without `/` matches at any depth, `**` spans folders. Repeatable' -r
complete -c ingest -n "__fish_ingest_using_subcommand add" -l max-depth -d 'Descend at most N levels below each directory named' -r
complete -c ingest -n "__fish_ingest_using_subcommand add" -l sync -d 'When objects are made durable, always before their manifest lines: a batch at a time by syncing its own files and folders side by side (group, the default; a lone input on its own), each one alone (file), or a batch at a time by one syncfs of the whole filesystem (batch: as fast as group on a quiet machine, slower when others write, since it flushes their data too)' -r -f -a "group\t''
file\t''
batch\t''"
complete -c ingest -n "__fish_ingest_using_subcommand add" -l content-type -d 'The type the source declared (an MMS part\'s ct); kept as declared_mime when the bytes say otherwise' -r
complete -c ingest -n "__fish_ingest_using_subcommand add" -l sha256 -d 'The SHA-256 the input must have (one input only), or it is rejected' -r
complete -c ingest -n "__fish_ingest_using_subcommand add" -l max-size -d 'Reject inputs larger than SIZE (500K, 100M, 2G), reading no further' -r
complete -c ingest -n "__fish_ingest_using_subcommand add" -l allow -d 'Let in only sniffed types matching PATTERN (image/*, video/mp4). Repeatable' -r
complete -c ingest -n "__fish_ingest_using_subcommand add" -l deny -d 'Reject sniffed types matching PATTERN; wins over --allow. Repeatable' -r
complete -c ingest -n "__fish_ingest_using_subcommand add" -l clamd -d 'Scan with ClamAV: a clamd unix socket path, or tcp://HOST:PORT' -r
complete -c ingest -n "__fish_ingest_using_subcommand add" -l scan-timeout -d 'How long to wait for clamd at each step before the scan fails [default: 30]' -r
complete -c ingest -n "__fish_ingest_using_subcommand add" -l store -d 'The store: a directory, or s3://BUCKET/PREFIX. Default: $XDG_DATA_HOME/ingest, else ~/.local/share/ingest' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand add" -l spool -d 'S3 stores: where inputs over 64 KiB wait, hashed, for their upload (smaller ones wait in memory). Default: the cache folder ($XDG_CACHE_HOME/ingest, else ~/.cache/ingest)' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand add" -l s3-addressing -d 'S3 stores: path-style (endpoint/bucket/key) or virtual-hosted (bucket.endpoint/key) requests. Default: path with AWS_ENDPOINT_URL, else virtual' -r -f -a "path\t''
virtual\t''"
complete -c ingest -n "__fish_ingest_using_subcommand add" -l progress -d 'When to draw progress bars on stderr (auto: only on a terminal)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ingest -n "__fish_ingest_using_subcommand add" -l wait-lock -d 'How long to wait for another ingest\'s lock on the store before giving up (exit 1)' -r
complete -c ingest -n "__fish_ingest_using_subcommand add" -s L -l follow -d 'Follow symbolic links met inside a walked directory (links named on the command line are always followed)'
complete -c ingest -n "__fish_ingest_using_subcommand add" -l no-cache -d 'Read every file again instead of trusting the files cache'
complete -c ingest -n "__fish_ingest_using_subcommand add" -l dry-run -d 'Hash, sniff and report what would happen; write nothing to the store'
complete -c ingest -n "__fish_ingest_using_subcommand add" -l scan-fail-open -d 'Store inputs unscanned (with a warning, "scanned": false) when clamd fails, instead of failing them'
complete -c ingest -n "__fish_ingest_using_subcommand add" -l json -d 'Print one JSON object per input, then a summary, instead of sha256sum lines.'
complete -c ingest -n "__fish_ingest_using_subcommand add" -s q -l quiet -d 'Print nothing but errors'
complete -c ingest -n "__fish_ingest_using_subcommand add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ingest -n "__fish_ingest_using_subcommand mms" -l sync -d 'When objects are made durable, always before their manifest lines: a batch at a time by syncing its own files and folders side by side (group, the default; a lone input on its own), each one alone (file), or a batch at a time by one syncfs of the whole filesystem (batch: as fast as group on a quiet machine, slower when others write, since it flushes their data too)' -r -f -a "group\t''
file\t''
batch\t''"
complete -c ingest -n "__fish_ingest_using_subcommand mms" -l max-size -d 'Reject inputs larger than SIZE (500K, 100M, 2G), reading no further' -r
complete -c ingest -n "__fish_ingest_using_subcommand mms" -l allow -d 'Let in only sniffed types matching PATTERN (image/*, video/mp4). Repeatable' -r
complete -c ingest -n "__fish_ingest_using_subcommand mms" -l deny -d 'Reject sniffed types matching PATTERN; wins over --allow. Repeatable' -r
complete -c ingest -n "__fish_ingest_using_subcommand mms" -l clamd -d 'Scan with ClamAV: a clamd unix socket path, or tcp://HOST:PORT' -r
complete -c ingest -n "__fish_ingest_using_subcommand mms" -l scan-timeout -d 'How long to wait for clamd at each step before the scan fails [default: 30]' -r
complete -c ingest -n "__fish_ingest_using_subcommand mms" -l store -d 'The store: a directory, or s3://BUCKET/PREFIX. Default: $XDG_DATA_HOME/ingest, else ~/.local/share/ingest' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand mms" -l spool -d 'S3 stores: where inputs over 64 KiB wait, hashed, for their upload (smaller ones wait in memory). Default: the cache folder ($XDG_CACHE_HOME/ingest, else ~/.cache/ingest)' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand mms" -l s3-addressing -d 'S3 stores: path-style (endpoint/bucket/key) or virtual-hosted (bucket.endpoint/key) requests. Default: path with AWS_ENDPOINT_URL, else virtual' -r -f -a "path\t''
virtual\t''"
complete -c ingest -n "__fish_ingest_using_subcommand mms" -l progress -d 'When to draw progress bars on stderr (auto: only on a terminal)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ingest -n "__fish_ingest_using_subcommand mms" -l wait-lock -d 'How long to wait for another ingest\'s lock on the store before giving up (exit 1)' -r
complete -c ingest -n "__fish_ingest_using_subcommand mms" -l text -d 'Also store text parts, as UTF-8 text files'
complete -c ingest -n "__fish_ingest_using_subcommand mms" -l dry-run -d 'Read and report what would be stored; write nothing to the store'
complete -c ingest -n "__fish_ingest_using_subcommand mms" -l scan-fail-open -d 'Store inputs unscanned (with a warning, "scanned": false) when clamd fails, instead of failing them'
complete -c ingest -n "__fish_ingest_using_subcommand mms" -l json -d 'Print one JSON object per attachment, then a summary, instead of sha256sum lines.'
complete -c ingest -n "__fish_ingest_using_subcommand mms" -s q -l quiet -d 'Print nothing but errors'
complete -c ingest -n "__fish_ingest_using_subcommand mms" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ingest -n "__fish_ingest_using_subcommand ls" -l mime -d 'Only entries whose type matches PATTERN (image/*, video/mp4)' -r
complete -c ingest -n "__fish_ingest_using_subcommand ls" -l name -d 'Only entries whose name matches GLOB (*.jpg)' -r
complete -c ingest -n "__fish_ingest_using_subcommand ls" -l since -d 'Only entries stored at or after DATE: an RFC 3339 time, or a prefix of one (2026, 2026-11, 2026-11-01, 2026-11-01T12:30), in UTC' -r
complete -c ingest -n "__fish_ingest_using_subcommand ls" -l until -d 'Only entries stored before DATE (the same forms as --since)' -r
complete -c ingest -n "__fish_ingest_using_subcommand ls" -l source -d 'Only entries whose source matches GLOB (/home/me/Photos/**, http:*, a backup\'s path)' -r
complete -c ingest -n "__fish_ingest_using_subcommand ls" -l path -d 'Only entries whose recorded path starts with PREFIX (Photos/2019/: a folder of the tree a run was given)' -r
complete -c ingest -n "__fish_ingest_using_subcommand ls" -l spool -d 'S3 stores: where inputs over 64 KiB wait, hashed, for their upload (smaller ones wait in memory). Default: the cache folder ($XDG_CACHE_HOME/ingest, else ~/.cache/ingest)' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand ls" -l progress -d 'When to draw progress bars on stderr (auto: only on a terminal)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ingest -n "__fish_ingest_using_subcommand ls" -l wait-lock -d 'How long to wait for another ingest\'s lock on the store before giving up (exit 1)' -r
complete -c ingest -n "__fish_ingest_using_subcommand ls" -l store -d 'The store: a directory, or s3://BUCKET/PREFIX. Default: $XDG_DATA_HOME/ingest, else ~/.local/share/ingest' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand ls" -l s3-addressing -d 'S3 stores: path-style (endpoint/bucket/key) or virtual-hosted (bucket.endpoint/key) requests. Default: path with AWS_ENDPOINT_URL, else virtual' -r -f -a "path\t''
virtual\t''"
complete -c ingest -n "__fish_ingest_using_subcommand ls" -l json -d 'Print each manifest line as it is (JSON), its id first, instead of a table.'
complete -c ingest -n "__fish_ingest_using_subcommand ls" -s q -l quiet -d 'Print nothing but errors'
complete -c ingest -n "__fish_ingest_using_subcommand ls" -s h -l help -d 'Print help'
complete -c ingest -n "__fish_ingest_using_subcommand cat" -l spool -d 'S3 stores: where inputs over 64 KiB wait, hashed, for their upload (smaller ones wait in memory). Default: the cache folder ($XDG_CACHE_HOME/ingest, else ~/.cache/ingest)' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand cat" -l progress -d 'When to draw progress bars on stderr (auto: only on a terminal)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ingest -n "__fish_ingest_using_subcommand cat" -l wait-lock -d 'How long to wait for another ingest\'s lock on the store before giving up (exit 1)' -r
complete -c ingest -n "__fish_ingest_using_subcommand cat" -l store -d 'The store: a directory, or s3://BUCKET/PREFIX. Default: $XDG_DATA_HOME/ingest, else ~/.local/share/ingest' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand cat" -l s3-addressing -d 'S3 stores: path-style (endpoint/bucket/key) or virtual-hosted (bucket.endpoint/key) requests. Default: path with AWS_ENDPOINT_URL, else virtual' -r -f -a "path\t''
virtual\t''"
complete -c ingest -n "__fish_ingest_using_subcommand cat" -l json -d 'Print JSON lines instead of text (each command says what it prints)'
complete -c ingest -n "__fish_ingest_using_subcommand cat" -s q -l quiet -d 'Print nothing but errors'
complete -c ingest -n "__fish_ingest_using_subcommand cat" -s h -l help -d 'Print help'
complete -c ingest -n "__fish_ingest_using_subcommand rm" -l mime -d 'Only entries whose type matches PATTERN (image/*, video/mp4)' -r
complete -c ingest -n "__fish_ingest_using_subcommand rm" -l name -d 'Only entries whose name matches GLOB (*.jpg)' -r
complete -c ingest -n "__fish_ingest_using_subcommand rm" -l since -d 'Only entries stored at or after DATE: an RFC 3339 time, or a prefix of one (2026, 2026-11, 2026-11-01, 2026-11-01T12:30), in UTC' -r
complete -c ingest -n "__fish_ingest_using_subcommand rm" -l until -d 'Only entries stored before DATE (the same forms as --since)' -r
complete -c ingest -n "__fish_ingest_using_subcommand rm" -l source -d 'Only entries whose source matches GLOB (/home/me/Photos/**, http:*, a backup\'s path)' -r
complete -c ingest -n "__fish_ingest_using_subcommand rm" -l path -d 'Only entries whose recorded path starts with PREFIX (Photos/2019/: a folder of the tree a run was given)' -r
complete -c ingest -n "__fish_ingest_using_subcommand rm" -l id -d 'Only the entry of this id (32 hex digits, as `ls --json` and the server\'s pages show); may be given again' -r
complete -c ingest -n "__fish_ingest_using_subcommand rm" -l older-than -d 'Only entries stored more than AGE ago (90d, 6mo, 2y): a retention rule for cron, with --source \'http:*\' for a server\'s uploads' -r
complete -c ingest -n "__fish_ingest_using_subcommand rm" -l spool -d 'S3 stores: where inputs over 64 KiB wait, hashed, for their upload (smaller ones wait in memory). Default: the cache folder ($XDG_CACHE_HOME/ingest, else ~/.cache/ingest)' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand rm" -l progress -d 'When to draw progress bars on stderr (auto: only on a terminal)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ingest -n "__fish_ingest_using_subcommand rm" -l store -d 'The store: a directory, or s3://BUCKET/PREFIX. Default: $XDG_DATA_HOME/ingest, else ~/.local/share/ingest' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand rm" -l s3-addressing -d 'S3 stores: path-style (endpoint/bucket/key) or virtual-hosted (bucket.endpoint/key) requests. Default: path with AWS_ENDPOINT_URL, else virtual' -r -f -a "path\t''
virtual\t''"
complete -c ingest -n "__fish_ingest_using_subcommand rm" -l wait-lock -d 'How long to wait for another ingest\'s lock on the store before giving up (exit 1)' -r
complete -c ingest -n "__fish_ingest_using_subcommand rm" -l dry-run -d 'Print what would be removed; remove nothing'
complete -c ingest -n "__fish_ingest_using_subcommand rm" -l block -d 'Also add the removed objects to the store\'s block list (`blocked` in config.json): add, mms and serve then refuse those bytes (exit 3, HTTP 403), so a nightly run over a folder that still holds them does not bring them back'
complete -c ingest -n "__fish_ingest_using_subcommand rm" -l trash -d 'Move the entries to the trash instead, objects kept, to restore with `ingest trash restore` until `gc` empties it'
complete -c ingest -n "__fish_ingest_using_subcommand rm" -l purge -d 'Remove the selected entries\' objects at once, with every entry that names them (other names, and the trash\'s, too): bytes that must be gone'
complete -c ingest -n "__fish_ingest_using_subcommand rm" -l json -d 'Print each removed entry\'s manifest line (JSON), its id first, instead of a table.'
complete -c ingest -n "__fish_ingest_using_subcommand rm" -s q -l quiet -d 'Print nothing but errors'
complete -c ingest -n "__fish_ingest_using_subcommand rm" -s h -l help -d 'Print help'
complete -c ingest -n "__fish_ingest_using_subcommand export" -l mime -d 'Only entries whose type matches PATTERN (image/*, video/mp4)' -r
complete -c ingest -n "__fish_ingest_using_subcommand export" -l name -d 'Only entries whose name matches GLOB (*.jpg)' -r
complete -c ingest -n "__fish_ingest_using_subcommand export" -l since -d 'Only entries stored at or after DATE: an RFC 3339 time, or a prefix of one (2026, 2026-11, 2026-11-01, 2026-11-01T12:30), in UTC' -r
complete -c ingest -n "__fish_ingest_using_subcommand export" -l until -d 'Only entries stored before DATE (the same forms as --since)' -r
complete -c ingest -n "__fish_ingest_using_subcommand export" -l source -d 'Only entries whose source matches GLOB (/home/me/Photos/**, http:*, a backup\'s path)' -r
complete -c ingest -n "__fish_ingest_using_subcommand export" -l path -d 'Only entries whose recorded path starts with PREFIX (Photos/2019/: a folder of the tree a run was given)' -r
complete -c ingest -n "__fish_ingest_using_subcommand export" -l link -d 'copy: a copy of its own (a reflink where the filesystem shares blocks), checked against its hash. hard: a hard link to the store\'s object, which saves space, but then the exported file is the stored object: making it writable and editing it damages the store' -r -f -a "copy\t'`auto` was the default once, and hard-linked on one filesystem'
hard\t''"
complete -c ingest -n "__fish_ingest_using_subcommand export" -l as-of -d 'With --tree: the tree as it stood at DATE (the newest entry of each path stored at or before it; the forms of --since)' -r
complete -c ingest -n "__fish_ingest_using_subcommand export" -l spool -d 'S3 stores: where inputs over 64 KiB wait, hashed, for their upload (smaller ones wait in memory). Default: the cache folder ($XDG_CACHE_HOME/ingest, else ~/.cache/ingest)' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand export" -l progress -d 'When to draw progress bars on stderr (auto: only on a terminal)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ingest -n "__fish_ingest_using_subcommand export" -l wait-lock -d 'How long to wait for another ingest\'s lock on the store before giving up (exit 1)' -r
complete -c ingest -n "__fish_ingest_using_subcommand export" -l store -d 'The store: a directory, or s3://BUCKET/PREFIX. Default: $XDG_DATA_HOME/ingest, else ~/.local/share/ingest' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand export" -l s3-addressing -d 'S3 stores: path-style (endpoint/bucket/key) or virtual-hosted (bucket.endpoint/key) requests. Default: path with AWS_ENDPOINT_URL, else virtual' -r -f -a "path\t''
virtual\t''"
complete -c ingest -n "__fish_ingest_using_subcommand export" -l overwrite -d 'Replace files that exist in DEST'
complete -c ingest -n "__fish_ingest_using_subcommand export" -l tree -d 'Rebuild the folders: each entry at its recorded path (the newest entry of each path), instead of every name in one folder'
complete -c ingest -n "__fish_ingest_using_subcommand export" -l all-versions -d 'With --tree: every version of each path, its date in its name (`IMG_0001 (2026-11-02T03-15-00Z).jpg`)'
complete -c ingest -n "__fish_ingest_using_subcommand export" -l json -d 'Print one JSON object per file written instead of sha256sum lines.'
complete -c ingest -n "__fish_ingest_using_subcommand export" -s q -l quiet -d 'Print nothing but errors'
complete -c ingest -n "__fish_ingest_using_subcommand export" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ingest -n "__fish_ingest_using_subcommand verify" -l spool -d 'S3 stores: where inputs over 64 KiB wait, hashed, for their upload (smaller ones wait in memory). Default: the cache folder ($XDG_CACHE_HOME/ingest, else ~/.cache/ingest)' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand verify" -l wait-lock -d 'How long to wait for another ingest\'s lock on the store before giving up (exit 1)' -r
complete -c ingest -n "__fish_ingest_using_subcommand verify" -l store -d 'The store: a directory, or s3://BUCKET/PREFIX. Default: $XDG_DATA_HOME/ingest, else ~/.local/share/ingest' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand verify" -l s3-addressing -d 'S3 stores: path-style (endpoint/bucket/key) or virtual-hosted (bucket.endpoint/key) requests. Default: path with AWS_ENDPOINT_URL, else virtual' -r -f -a "path\t''
virtual\t''"
complete -c ingest -n "__fish_ingest_using_subcommand verify" -l progress -d 'When to draw progress bars on stderr (auto: only on a terminal)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ingest -n "__fish_ingest_using_subcommand verify" -l quick -d 'Check presence and sizes only; read no content'
complete -c ingest -n "__fish_ingest_using_subcommand verify" -l json -d 'Print one JSON object per problem, then a summary.'
complete -c ingest -n "__fish_ingest_using_subcommand verify" -s q -l quiet -d 'Print nothing but errors'
complete -c ingest -n "__fish_ingest_using_subcommand verify" -s h -l help -d 'Print help'
complete -c ingest -n "__fish_ingest_using_subcommand gc" -l older-than -d 'Remove only what is older than AGE (30m, 2h, 1d) instead: below the defaults, a run still at work elsewhere may lose an upload or an object it is about to record' -r
complete -c ingest -n "__fish_ingest_using_subcommand gc" -l trash-days -d 'Empty from the trash what was removed more than DAYS days ago (default: the store\'s `trash_days`, else 30)' -r
complete -c ingest -n "__fish_ingest_using_subcommand gc" -l progress -d 'When to draw progress bars on stderr (auto: only on a terminal)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ingest -n "__fish_ingest_using_subcommand gc" -l store -d 'The store: a directory, or s3://BUCKET/PREFIX. Default: $XDG_DATA_HOME/ingest, else ~/.local/share/ingest' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand gc" -l spool -d 'S3 stores: where inputs over 64 KiB wait, hashed, for their upload (smaller ones wait in memory). Default: the cache folder ($XDG_CACHE_HOME/ingest, else ~/.cache/ingest)' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand gc" -l s3-addressing -d 'S3 stores: path-style (endpoint/bucket/key) or virtual-hosted (bucket.endpoint/key) requests. Default: path with AWS_ENDPOINT_URL, else virtual' -r -f -a "path\t''
virtual\t''"
complete -c ingest -n "__fish_ingest_using_subcommand gc" -l wait-lock -d 'How long to wait for another ingest\'s lock on the store before giving up (exit 1)' -r
complete -c ingest -n "__fish_ingest_using_subcommand gc" -l orphans -d 'Also remove orphan objects'
complete -c ingest -n "__fish_ingest_using_subcommand gc" -l dry-run -d 'Report what would be removed; remove nothing'
complete -c ingest -n "__fish_ingest_using_subcommand gc" -l json -d 'Print JSON lines instead of text (each command says what it prints)'
complete -c ingest -n "__fish_ingest_using_subcommand gc" -s q -l quiet -d 'Print nothing but errors'
complete -c ingest -n "__fish_ingest_using_subcommand gc" -s h -l help -d 'Print help'
complete -c ingest -n "__fish_ingest_using_subcommand stats" -l spool -d 'S3 stores: where inputs over 64 KiB wait, hashed, for their upload (smaller ones wait in memory). Default: the cache folder ($XDG_CACHE_HOME/ingest, else ~/.cache/ingest)' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand stats" -l progress -d 'When to draw progress bars on stderr (auto: only on a terminal)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ingest -n "__fish_ingest_using_subcommand stats" -l wait-lock -d 'How long to wait for another ingest\'s lock on the store before giving up (exit 1)' -r
complete -c ingest -n "__fish_ingest_using_subcommand stats" -l store -d 'The store: a directory, or s3://BUCKET/PREFIX. Default: $XDG_DATA_HOME/ingest, else ~/.local/share/ingest' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand stats" -l s3-addressing -d 'S3 stores: path-style (endpoint/bucket/key) or virtual-hosted (bucket.endpoint/key) requests. Default: path with AWS_ENDPOINT_URL, else virtual' -r -f -a "path\t''
virtual\t''"
complete -c ingest -n "__fish_ingest_using_subcommand stats" -l json -d 'Print the counts as one JSON object.'
complete -c ingest -n "__fish_ingest_using_subcommand stats" -s q -l quiet -d 'Print nothing but errors'
complete -c ingest -n "__fish_ingest_using_subcommand stats" -s h -l help -d 'Print help'
complete -c ingest -n "__fish_ingest_using_subcommand copy" -l store -d 'The store: a directory, or s3://BUCKET/PREFIX. Default: $XDG_DATA_HOME/ingest, else ~/.local/share/ingest' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand copy" -l spool -d 'S3 stores: where inputs over 64 KiB wait, hashed, for their upload (smaller ones wait in memory). Default: the cache folder ($XDG_CACHE_HOME/ingest, else ~/.cache/ingest)' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand copy" -l s3-addressing -d 'S3 stores: path-style (endpoint/bucket/key) or virtual-hosted (bucket.endpoint/key) requests. Default: path with AWS_ENDPOINT_URL, else virtual' -r -f -a "path\t''
virtual\t''"
complete -c ingest -n "__fish_ingest_using_subcommand copy" -l progress -d 'When to draw progress bars on stderr (auto: only on a terminal)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ingest -n "__fish_ingest_using_subcommand copy" -l wait-lock -d 'How long to wait for another ingest\'s lock on the store before giving up (exit 1)' -r
complete -c ingest -n "__fish_ingest_using_subcommand copy" -l json -d 'Print JSON lines instead of text (each command says what it prints)'
complete -c ingest -n "__fish_ingest_using_subcommand copy" -s q -l quiet -d 'Print nothing but errors'
complete -c ingest -n "__fish_ingest_using_subcommand copy" -s h -l help -d 'Print help'
complete -c ingest -n "__fish_ingest_using_subcommand serve" -l listen -d 'The address and port to listen on: ADDR:PORT (127.0.0.1:8420, [::1]:8420, 0.0.0.0:8420), HOST:PORT (localhost:8420, its first IPv4 address if it has one), or a port alone (on 127.0.0.1)' -r
complete -c ingest -n "__fish_ingest_using_subcommand serve" -l max-uploads -d 'Uploads at most this many at once; more are answered 503 with Retry-After' -r
complete -c ingest -n "__fish_ingest_using_subcommand serve" -l max-uploads-per-token -d 'Uploads one token may have under way at once, at most: by default three quarters of --max-uploads, so one client trickling many bodies in leaves room for the others' -r
complete -c ingest -n "__fish_ingest_using_subcommand serve" -l grace -d 'On SIGTERM, how long uploads in flight may take to finish before they are cut off (and leave nothing behind)' -r
complete -c ingest -n "__fish_ingest_using_subcommand serve" -l header-timeout -d 'Closes a connection that has not sent a whole request head (or, for HTTP/2, its preface and first request) this long after opening, and one whose later request head takes this long' -r
complete -c ingest -n "__fish_ingest_using_subcommand serve" -l body-timeout -d 'Drops an upload whose body sends nothing for this long' -r
complete -c ingest -n "__fish_ingest_using_subcommand serve" -l idle-timeout -d 'Closes a connection (HTTP/1.1 keep-alive or HTTP/2) with no request in flight for this long' -r
complete -c ingest -n "__fish_ingest_using_subcommand serve" -l send-timeout -d 'Closes a connection whose client takes none of an answer for this long (one 64 KiB chunk at most: a client must read at least 64 KiB per this many seconds)' -r
complete -c ingest -n "__fish_ingest_using_subcommand serve" -l max-connections -d 'Connections open at once, at most; at the limit a new one closes the one idle the longest, or is answered 503 if none is idle. Default: from the open files limit, which the server raises to its maximum' -r
complete -c ingest -n "__fish_ingest_using_subcommand serve" -l max-partial -d 'Bytes of unfinished resumable (tus) uploads one token may hold at once (1G, 500M); a creation past it is answered 413' -r
complete -c ingest -n "__fish_ingest_using_subcommand serve" -l partial-expiry -d 'An unfinished resumable upload untouched this long is gone (gc removes it; the server refuses it)' -r
complete -c ingest -n "__fish_ingest_using_subcommand serve" -l cors-origin -d 'Lets browser clients served from ORIGIN (https://notes.example, app://obsidian.md) call the API with their tokens (CORS); may be given again; `*` allows any origin. By default only the server\'s own page can' -r
complete -c ingest -n "__fish_ingest_using_subcommand serve" -l max-size -d 'Reject inputs larger than SIZE (500K, 100M, 2G), reading no further' -r
complete -c ingest -n "__fish_ingest_using_subcommand serve" -l allow -d 'Let in only sniffed types matching PATTERN (image/*, video/mp4). Repeatable' -r
complete -c ingest -n "__fish_ingest_using_subcommand serve" -l deny -d 'Reject sniffed types matching PATTERN; wins over --allow. Repeatable' -r
complete -c ingest -n "__fish_ingest_using_subcommand serve" -l clamd -d 'Scan with ClamAV: a clamd unix socket path, or tcp://HOST:PORT' -r
complete -c ingest -n "__fish_ingest_using_subcommand serve" -l scan-timeout -d 'How long to wait for clamd at each step before the scan fails [default: 30]' -r
complete -c ingest -n "__fish_ingest_using_subcommand serve" -l progress -d 'When to draw progress bars on stderr (auto: only on a terminal)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ingest -n "__fish_ingest_using_subcommand serve" -l store -d 'The store: a directory, or s3://BUCKET/PREFIX. Default: $XDG_DATA_HOME/ingest, else ~/.local/share/ingest' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand serve" -l spool -d 'S3 stores: where inputs over 64 KiB wait, hashed, for their upload (smaller ones wait in memory). Default: the cache folder ($XDG_CACHE_HOME/ingest, else ~/.cache/ingest)' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand serve" -l s3-addressing -d 'S3 stores: path-style (endpoint/bucket/key) or virtual-hosted (bucket.endpoint/key) requests. Default: path with AWS_ENDPOINT_URL, else virtual' -r -f -a "path\t''
virtual\t''"
complete -c ingest -n "__fish_ingest_using_subcommand serve" -l wait-lock -d 'How long to wait for another ingest\'s lock on the store before giving up (exit 1)' -r
complete -c ingest -n "__fish_ingest_using_subcommand serve" -s v -l verbose -d 'Log one line per request (-v), and more (-vv)'
complete -c ingest -n "__fish_ingest_using_subcommand serve" -l scan-fail-open -d 'Store inputs unscanned (with a warning, "scanned": false) when clamd fails, instead of failing them'
complete -c ingest -n "__fish_ingest_using_subcommand serve" -l json -d 'Log JSON lines instead of text.'
complete -c ingest -n "__fish_ingest_using_subcommand serve" -s q -l quiet -d 'Print nothing but errors'
complete -c ingest -n "__fish_ingest_using_subcommand serve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ingest -n "__fish_ingest_using_subcommand token; and not __fish_seen_subcommand_from add ls rm help" -l spool -d 'S3 stores: where inputs over 64 KiB wait, hashed, for their upload (smaller ones wait in memory). Default: the cache folder ($XDG_CACHE_HOME/ingest, else ~/.cache/ingest)' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand token; and not __fish_seen_subcommand_from add ls rm help" -l progress -d 'When to draw progress bars on stderr (auto: only on a terminal)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ingest -n "__fish_ingest_using_subcommand token; and not __fish_seen_subcommand_from add ls rm help" -l store -d 'The store: a directory, or s3://BUCKET/PREFIX. Default: $XDG_DATA_HOME/ingest, else ~/.local/share/ingest' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand token; and not __fish_seen_subcommand_from add ls rm help" -l s3-addressing -d 'S3 stores: path-style (endpoint/bucket/key) or virtual-hosted (bucket.endpoint/key) requests. Default: path with AWS_ENDPOINT_URL, else virtual' -r -f -a "path\t''
virtual\t''"
complete -c ingest -n "__fish_ingest_using_subcommand token; and not __fish_seen_subcommand_from add ls rm help" -l wait-lock -d 'How long to wait for another ingest\'s lock on the store before giving up (exit 1)' -r
complete -c ingest -n "__fish_ingest_using_subcommand token; and not __fish_seen_subcommand_from add ls rm help" -l json -d 'token ls: one JSON object per token.'
complete -c ingest -n "__fish_ingest_using_subcommand token; and not __fish_seen_subcommand_from add ls rm help" -s q -l quiet -d 'Print nothing but errors'
complete -c ingest -n "__fish_ingest_using_subcommand token; and not __fish_seen_subcommand_from add ls rm help" -s h -l help -d 'Print help'
complete -c ingest -n "__fish_ingest_using_subcommand token; and not __fish_seen_subcommand_from add ls rm help" -f -a "add" -d 'Make a token and print it, once, alone on standard output; only its hash is kept, beside the store'
complete -c ingest -n "__fish_ingest_using_subcommand token; and not __fish_seen_subcommand_from add ls rm help" -f -a "ls" -d 'List the tokens by name, scope and date (never their text); with --json one object per token'
complete -c ingest -n "__fish_ingest_using_subcommand token; and not __fish_seen_subcommand_from add ls rm help" -f -a "rm" -d 'Remove a token: requests with it are refused from then on'
complete -c ingest -n "__fish_ingest_using_subcommand token; and not __fish_seen_subcommand_from add ls rm help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ingest -n "__fish_ingest_using_subcommand token; and __fish_seen_subcommand_from add" -l scope -d 'What the token may do: read (entries and objects), upload (and read), or delete (move entries to the trash and restore them, besides uploading and reading)' -r -f -a "read\t''
upload\t''
delete\t''"
complete -c ingest -n "__fish_ingest_using_subcommand token; and __fish_seen_subcommand_from add" -l spool -d 'S3 stores: where inputs over 64 KiB wait, hashed, for their upload (smaller ones wait in memory). Default: the cache folder ($XDG_CACHE_HOME/ingest, else ~/.cache/ingest)' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand token; and __fish_seen_subcommand_from add" -l progress -d 'When to draw progress bars on stderr (auto: only on a terminal)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ingest -n "__fish_ingest_using_subcommand token; and __fish_seen_subcommand_from add" -l store -d 'The store: a directory, or s3://BUCKET/PREFIX. Default: $XDG_DATA_HOME/ingest, else ~/.local/share/ingest' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand token; and __fish_seen_subcommand_from add" -l s3-addressing -d 'S3 stores: path-style (endpoint/bucket/key) or virtual-hosted (bucket.endpoint/key) requests. Default: path with AWS_ENDPOINT_URL, else virtual' -r -f -a "path\t''
virtual\t''"
complete -c ingest -n "__fish_ingest_using_subcommand token; and __fish_seen_subcommand_from add" -l wait-lock -d 'How long to wait for another ingest\'s lock on the store before giving up (exit 1)' -r
complete -c ingest -n "__fish_ingest_using_subcommand token; and __fish_seen_subcommand_from add" -l read-only -d 'The same as --scope read'
complete -c ingest -n "__fish_ingest_using_subcommand token; and __fish_seen_subcommand_from add" -l json -d 'token ls: one JSON object per token.'
complete -c ingest -n "__fish_ingest_using_subcommand token; and __fish_seen_subcommand_from add" -s q -l quiet -d 'Print nothing but errors'
complete -c ingest -n "__fish_ingest_using_subcommand token; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c ingest -n "__fish_ingest_using_subcommand token; and __fish_seen_subcommand_from ls" -l spool -d 'S3 stores: where inputs over 64 KiB wait, hashed, for their upload (smaller ones wait in memory). Default: the cache folder ($XDG_CACHE_HOME/ingest, else ~/.cache/ingest)' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand token; and __fish_seen_subcommand_from ls" -l progress -d 'When to draw progress bars on stderr (auto: only on a terminal)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ingest -n "__fish_ingest_using_subcommand token; and __fish_seen_subcommand_from ls" -l store -d 'The store: a directory, or s3://BUCKET/PREFIX. Default: $XDG_DATA_HOME/ingest, else ~/.local/share/ingest' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand token; and __fish_seen_subcommand_from ls" -l s3-addressing -d 'S3 stores: path-style (endpoint/bucket/key) or virtual-hosted (bucket.endpoint/key) requests. Default: path with AWS_ENDPOINT_URL, else virtual' -r -f -a "path\t''
virtual\t''"
complete -c ingest -n "__fish_ingest_using_subcommand token; and __fish_seen_subcommand_from ls" -l wait-lock -d 'How long to wait for another ingest\'s lock on the store before giving up (exit 1)' -r
complete -c ingest -n "__fish_ingest_using_subcommand token; and __fish_seen_subcommand_from ls" -l json -d 'token ls: one JSON object per token.'
complete -c ingest -n "__fish_ingest_using_subcommand token; and __fish_seen_subcommand_from ls" -s q -l quiet -d 'Print nothing but errors'
complete -c ingest -n "__fish_ingest_using_subcommand token; and __fish_seen_subcommand_from ls" -s h -l help -d 'Print help'
complete -c ingest -n "__fish_ingest_using_subcommand token; and __fish_seen_subcommand_from rm" -l spool -d 'S3 stores: where inputs over 64 KiB wait, hashed, for their upload (smaller ones wait in memory). Default: the cache folder ($XDG_CACHE_HOME/ingest, else ~/.cache/ingest)' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand token; and __fish_seen_subcommand_from rm" -l progress -d 'When to draw progress bars on stderr (auto: only on a terminal)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ingest -n "__fish_ingest_using_subcommand token; and __fish_seen_subcommand_from rm" -l store -d 'The store: a directory, or s3://BUCKET/PREFIX. Default: $XDG_DATA_HOME/ingest, else ~/.local/share/ingest' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand token; and __fish_seen_subcommand_from rm" -l s3-addressing -d 'S3 stores: path-style (endpoint/bucket/key) or virtual-hosted (bucket.endpoint/key) requests. Default: path with AWS_ENDPOINT_URL, else virtual' -r -f -a "path\t''
virtual\t''"
complete -c ingest -n "__fish_ingest_using_subcommand token; and __fish_seen_subcommand_from rm" -l wait-lock -d 'How long to wait for another ingest\'s lock on the store before giving up (exit 1)' -r
complete -c ingest -n "__fish_ingest_using_subcommand token; and __fish_seen_subcommand_from rm" -l json -d 'token ls: one JSON object per token.'
complete -c ingest -n "__fish_ingest_using_subcommand token; and __fish_seen_subcommand_from rm" -s q -l quiet -d 'Print nothing but errors'
complete -c ingest -n "__fish_ingest_using_subcommand token; and __fish_seen_subcommand_from rm" -s h -l help -d 'Print help'
complete -c ingest -n "__fish_ingest_using_subcommand token; and __fish_seen_subcommand_from help" -f -a "add" -d 'Make a token and print it, once, alone on standard output; only its hash is kept, beside the store'
complete -c ingest -n "__fish_ingest_using_subcommand token; and __fish_seen_subcommand_from help" -f -a "ls" -d 'List the tokens by name, scope and date (never their text); with --json one object per token'
complete -c ingest -n "__fish_ingest_using_subcommand token; and __fish_seen_subcommand_from help" -f -a "rm" -d 'Remove a token: requests with it are refused from then on'
complete -c ingest -n "__fish_ingest_using_subcommand token; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ingest -n "__fish_ingest_using_subcommand block; and not __fish_seen_subcommand_from ls add rm help" -l spool -d 'S3 stores: where inputs over 64 KiB wait, hashed, for their upload (smaller ones wait in memory). Default: the cache folder ($XDG_CACHE_HOME/ingest, else ~/.cache/ingest)' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand block; and not __fish_seen_subcommand_from ls add rm help" -l progress -d 'When to draw progress bars on stderr (auto: only on a terminal)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ingest -n "__fish_ingest_using_subcommand block; and not __fish_seen_subcommand_from ls add rm help" -l wait-lock -d 'How long to wait for another ingest\'s lock on the store before giving up (exit 1)' -r
complete -c ingest -n "__fish_ingest_using_subcommand block; and not __fish_seen_subcommand_from ls add rm help" -l store -d 'The store: a directory, or s3://BUCKET/PREFIX. Default: $XDG_DATA_HOME/ingest, else ~/.local/share/ingest' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand block; and not __fish_seen_subcommand_from ls add rm help" -l s3-addressing -d 'S3 stores: path-style (endpoint/bucket/key) or virtual-hosted (bucket.endpoint/key) requests. Default: path with AWS_ENDPOINT_URL, else virtual' -r -f -a "path\t''
virtual\t''"
complete -c ingest -n "__fish_ingest_using_subcommand block; and not __fish_seen_subcommand_from ls add rm help" -l json -d 'Print JSON lines instead of text (each command says what it prints)'
complete -c ingest -n "__fish_ingest_using_subcommand block; and not __fish_seen_subcommand_from ls add rm help" -s q -l quiet -d 'Print nothing but errors'
complete -c ingest -n "__fish_ingest_using_subcommand block; and not __fish_seen_subcommand_from ls add rm help" -s h -l help -d 'Print help'
complete -c ingest -n "__fish_ingest_using_subcommand block; and not __fish_seen_subcommand_from ls add rm help" -f -a "ls" -d 'List the blocked hashes, one per line'
complete -c ingest -n "__fish_ingest_using_subcommand block; and not __fish_seen_subcommand_from ls add rm help" -f -a "add" -d 'Block these SHA-256 hashes (64 hex digits each), and those in FILE (one per line, `sha256sum` lines too; `-` reads standard input)'
complete -c ingest -n "__fish_ingest_using_subcommand block; and not __fish_seen_subcommand_from ls add rm help" -f -a "rm" -d 'Let these bytes in again'
complete -c ingest -n "__fish_ingest_using_subcommand block; and not __fish_seen_subcommand_from ls add rm help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ingest -n "__fish_ingest_using_subcommand block; and __fish_seen_subcommand_from ls" -l spool -d 'S3 stores: where inputs over 64 KiB wait, hashed, for their upload (smaller ones wait in memory). Default: the cache folder ($XDG_CACHE_HOME/ingest, else ~/.cache/ingest)' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand block; and __fish_seen_subcommand_from ls" -l progress -d 'When to draw progress bars on stderr (auto: only on a terminal)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ingest -n "__fish_ingest_using_subcommand block; and __fish_seen_subcommand_from ls" -l wait-lock -d 'How long to wait for another ingest\'s lock on the store before giving up (exit 1)' -r
complete -c ingest -n "__fish_ingest_using_subcommand block; and __fish_seen_subcommand_from ls" -l store -d 'The store: a directory, or s3://BUCKET/PREFIX. Default: $XDG_DATA_HOME/ingest, else ~/.local/share/ingest' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand block; and __fish_seen_subcommand_from ls" -l s3-addressing -d 'S3 stores: path-style (endpoint/bucket/key) or virtual-hosted (bucket.endpoint/key) requests. Default: path with AWS_ENDPOINT_URL, else virtual' -r -f -a "path\t''
virtual\t''"
complete -c ingest -n "__fish_ingest_using_subcommand block; and __fish_seen_subcommand_from ls" -l json -d 'Print JSON lines instead of text (each command says what it prints)'
complete -c ingest -n "__fish_ingest_using_subcommand block; and __fish_seen_subcommand_from ls" -s q -l quiet -d 'Print nothing but errors'
complete -c ingest -n "__fish_ingest_using_subcommand block; and __fish_seen_subcommand_from ls" -s h -l help -d 'Print help'
complete -c ingest -n "__fish_ingest_using_subcommand block; and __fish_seen_subcommand_from add" -l from -r -F
complete -c ingest -n "__fish_ingest_using_subcommand block; and __fish_seen_subcommand_from add" -l spool -d 'S3 stores: where inputs over 64 KiB wait, hashed, for their upload (smaller ones wait in memory). Default: the cache folder ($XDG_CACHE_HOME/ingest, else ~/.cache/ingest)' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand block; and __fish_seen_subcommand_from add" -l progress -d 'When to draw progress bars on stderr (auto: only on a terminal)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ingest -n "__fish_ingest_using_subcommand block; and __fish_seen_subcommand_from add" -l wait-lock -d 'How long to wait for another ingest\'s lock on the store before giving up (exit 1)' -r
complete -c ingest -n "__fish_ingest_using_subcommand block; and __fish_seen_subcommand_from add" -l store -d 'The store: a directory, or s3://BUCKET/PREFIX. Default: $XDG_DATA_HOME/ingest, else ~/.local/share/ingest' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand block; and __fish_seen_subcommand_from add" -l s3-addressing -d 'S3 stores: path-style (endpoint/bucket/key) or virtual-hosted (bucket.endpoint/key) requests. Default: path with AWS_ENDPOINT_URL, else virtual' -r -f -a "path\t''
virtual\t''"
complete -c ingest -n "__fish_ingest_using_subcommand block; and __fish_seen_subcommand_from add" -l json -d 'Print JSON lines instead of text (each command says what it prints)'
complete -c ingest -n "__fish_ingest_using_subcommand block; and __fish_seen_subcommand_from add" -s q -l quiet -d 'Print nothing but errors'
complete -c ingest -n "__fish_ingest_using_subcommand block; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c ingest -n "__fish_ingest_using_subcommand block; and __fish_seen_subcommand_from rm" -l spool -d 'S3 stores: where inputs over 64 KiB wait, hashed, for their upload (smaller ones wait in memory). Default: the cache folder ($XDG_CACHE_HOME/ingest, else ~/.cache/ingest)' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand block; and __fish_seen_subcommand_from rm" -l progress -d 'When to draw progress bars on stderr (auto: only on a terminal)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ingest -n "__fish_ingest_using_subcommand block; and __fish_seen_subcommand_from rm" -l wait-lock -d 'How long to wait for another ingest\'s lock on the store before giving up (exit 1)' -r
complete -c ingest -n "__fish_ingest_using_subcommand block; and __fish_seen_subcommand_from rm" -l store -d 'The store: a directory, or s3://BUCKET/PREFIX. Default: $XDG_DATA_HOME/ingest, else ~/.local/share/ingest' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand block; and __fish_seen_subcommand_from rm" -l s3-addressing -d 'S3 stores: path-style (endpoint/bucket/key) or virtual-hosted (bucket.endpoint/key) requests. Default: path with AWS_ENDPOINT_URL, else virtual' -r -f -a "path\t''
virtual\t''"
complete -c ingest -n "__fish_ingest_using_subcommand block; and __fish_seen_subcommand_from rm" -l json -d 'Print JSON lines instead of text (each command says what it prints)'
complete -c ingest -n "__fish_ingest_using_subcommand block; and __fish_seen_subcommand_from rm" -s q -l quiet -d 'Print nothing but errors'
complete -c ingest -n "__fish_ingest_using_subcommand block; and __fish_seen_subcommand_from rm" -s h -l help -d 'Print help'
complete -c ingest -n "__fish_ingest_using_subcommand block; and __fish_seen_subcommand_from help" -f -a "ls" -d 'List the blocked hashes, one per line'
complete -c ingest -n "__fish_ingest_using_subcommand block; and __fish_seen_subcommand_from help" -f -a "add" -d 'Block these SHA-256 hashes (64 hex digits each), and those in FILE (one per line, `sha256sum` lines too; `-` reads standard input)'
complete -c ingest -n "__fish_ingest_using_subcommand block; and __fish_seen_subcommand_from help" -f -a "rm" -d 'Let these bytes in again'
complete -c ingest -n "__fish_ingest_using_subcommand block; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ingest -n "__fish_ingest_using_subcommand uploads; and not __fish_seen_subcommand_from ls help" -l progress -d 'When to draw progress bars on stderr (auto: only on a terminal)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ingest -n "__fish_ingest_using_subcommand uploads; and not __fish_seen_subcommand_from ls help" -l wait-lock -d 'How long to wait for another ingest\'s lock on the store before giving up (exit 1)' -r
complete -c ingest -n "__fish_ingest_using_subcommand uploads; and not __fish_seen_subcommand_from ls help" -l store -d 'The store: a directory, or s3://BUCKET/PREFIX. Default: $XDG_DATA_HOME/ingest, else ~/.local/share/ingest' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand uploads; and not __fish_seen_subcommand_from ls help" -l spool -d 'S3 stores: where inputs over 64 KiB wait, hashed, for their upload (smaller ones wait in memory). Default: the cache folder ($XDG_CACHE_HOME/ingest, else ~/.cache/ingest)' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand uploads; and not __fish_seen_subcommand_from ls help" -l s3-addressing -d 'S3 stores: path-style (endpoint/bucket/key) or virtual-hosted (bucket.endpoint/key) requests. Default: path with AWS_ENDPOINT_URL, else virtual' -r -f -a "path\t''
virtual\t''"
complete -c ingest -n "__fish_ingest_using_subcommand uploads; and not __fish_seen_subcommand_from ls help" -l json -d 'uploads ls: one JSON object per upload.'
complete -c ingest -n "__fish_ingest_using_subcommand uploads; and not __fish_seen_subcommand_from ls help" -s q -l quiet -d 'Print nothing but errors'
complete -c ingest -n "__fish_ingest_using_subcommand uploads; and not __fish_seen_subcommand_from ls help" -s h -l help -d 'Print help'
complete -c ingest -n "__fish_ingest_using_subcommand uploads; and not __fish_seen_subcommand_from ls help" -f -a "ls" -d 'List them; with --json one object per upload'
complete -c ingest -n "__fish_ingest_using_subcommand uploads; and not __fish_seen_subcommand_from ls help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ingest -n "__fish_ingest_using_subcommand uploads; and __fish_seen_subcommand_from ls" -l progress -d 'When to draw progress bars on stderr (auto: only on a terminal)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ingest -n "__fish_ingest_using_subcommand uploads; and __fish_seen_subcommand_from ls" -l wait-lock -d 'How long to wait for another ingest\'s lock on the store before giving up (exit 1)' -r
complete -c ingest -n "__fish_ingest_using_subcommand uploads; and __fish_seen_subcommand_from ls" -l store -d 'The store: a directory, or s3://BUCKET/PREFIX. Default: $XDG_DATA_HOME/ingest, else ~/.local/share/ingest' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand uploads; and __fish_seen_subcommand_from ls" -l spool -d 'S3 stores: where inputs over 64 KiB wait, hashed, for their upload (smaller ones wait in memory). Default: the cache folder ($XDG_CACHE_HOME/ingest, else ~/.cache/ingest)' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand uploads; and __fish_seen_subcommand_from ls" -l s3-addressing -d 'S3 stores: path-style (endpoint/bucket/key) or virtual-hosted (bucket.endpoint/key) requests. Default: path with AWS_ENDPOINT_URL, else virtual' -r -f -a "path\t''
virtual\t''"
complete -c ingest -n "__fish_ingest_using_subcommand uploads; and __fish_seen_subcommand_from ls" -l json -d 'uploads ls: one JSON object per upload.'
complete -c ingest -n "__fish_ingest_using_subcommand uploads; and __fish_seen_subcommand_from ls" -s q -l quiet -d 'Print nothing but errors'
complete -c ingest -n "__fish_ingest_using_subcommand uploads; and __fish_seen_subcommand_from ls" -s h -l help -d 'Print help'
complete -c ingest -n "__fish_ingest_using_subcommand uploads; and __fish_seen_subcommand_from help" -f -a "ls" -d 'List them; with --json one object per upload'
complete -c ingest -n "__fish_ingest_using_subcommand uploads; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ingest -n "__fish_ingest_using_subcommand trash; and not __fish_seen_subcommand_from ls restore empty help" -l spool -d 'S3 stores: where inputs over 64 KiB wait, hashed, for their upload (smaller ones wait in memory). Default: the cache folder ($XDG_CACHE_HOME/ingest, else ~/.cache/ingest)' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand trash; and not __fish_seen_subcommand_from ls restore empty help" -l progress -d 'When to draw progress bars on stderr (auto: only on a terminal)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ingest -n "__fish_ingest_using_subcommand trash; and not __fish_seen_subcommand_from ls restore empty help" -l store -d 'The store: a directory, or s3://BUCKET/PREFIX. Default: $XDG_DATA_HOME/ingest, else ~/.local/share/ingest' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand trash; and not __fish_seen_subcommand_from ls restore empty help" -l s3-addressing -d 'S3 stores: path-style (endpoint/bucket/key) or virtual-hosted (bucket.endpoint/key) requests. Default: path with AWS_ENDPOINT_URL, else virtual' -r -f -a "path\t''
virtual\t''"
complete -c ingest -n "__fish_ingest_using_subcommand trash; and not __fish_seen_subcommand_from ls restore empty help" -l wait-lock -d 'How long to wait for another ingest\'s lock on the store before giving up (exit 1)' -r
complete -c ingest -n "__fish_ingest_using_subcommand trash; and not __fish_seen_subcommand_from ls restore empty help" -l json -d 'trash ls: each trashed entry\'s manifest line (JSON), when it was trashed and its id first.'
complete -c ingest -n "__fish_ingest_using_subcommand trash; and not __fish_seen_subcommand_from ls restore empty help" -s q -l quiet -d 'Print nothing but errors'
complete -c ingest -n "__fish_ingest_using_subcommand trash; and not __fish_seen_subcommand_from ls restore empty help" -s h -l help -d 'Print help'
complete -c ingest -n "__fish_ingest_using_subcommand trash; and not __fish_seen_subcommand_from ls restore empty help" -f -a "ls" -d 'List the trashed entries, oldest removal first; with --json one object per entry (its id, and when it was removed)'
complete -c ingest -n "__fish_ingest_using_subcommand trash; and not __fish_seen_subcommand_from ls restore empty help" -f -a "restore" -d 'Put entries back: these ids, or every one with --all. An entry whose object is gone stays in the trash (exit 1)'
complete -c ingest -n "__fish_ingest_using_subcommand trash; and not __fish_seen_subcommand_from ls restore empty help" -f -a "empty" -d 'Remove trashed entries for good, and the objects nothing else names: these ids, those removed more than --older-than ago, or all'
complete -c ingest -n "__fish_ingest_using_subcommand trash; and not __fish_seen_subcommand_from ls restore empty help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ingest -n "__fish_ingest_using_subcommand trash; and __fish_seen_subcommand_from ls" -l spool -d 'S3 stores: where inputs over 64 KiB wait, hashed, for their upload (smaller ones wait in memory). Default: the cache folder ($XDG_CACHE_HOME/ingest, else ~/.cache/ingest)' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand trash; and __fish_seen_subcommand_from ls" -l progress -d 'When to draw progress bars on stderr (auto: only on a terminal)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ingest -n "__fish_ingest_using_subcommand trash; and __fish_seen_subcommand_from ls" -l store -d 'The store: a directory, or s3://BUCKET/PREFIX. Default: $XDG_DATA_HOME/ingest, else ~/.local/share/ingest' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand trash; and __fish_seen_subcommand_from ls" -l s3-addressing -d 'S3 stores: path-style (endpoint/bucket/key) or virtual-hosted (bucket.endpoint/key) requests. Default: path with AWS_ENDPOINT_URL, else virtual' -r -f -a "path\t''
virtual\t''"
complete -c ingest -n "__fish_ingest_using_subcommand trash; and __fish_seen_subcommand_from ls" -l wait-lock -d 'How long to wait for another ingest\'s lock on the store before giving up (exit 1)' -r
complete -c ingest -n "__fish_ingest_using_subcommand trash; and __fish_seen_subcommand_from ls" -l json -d 'trash ls: each trashed entry\'s manifest line (JSON), when it was trashed and its id first.'
complete -c ingest -n "__fish_ingest_using_subcommand trash; and __fish_seen_subcommand_from ls" -s q -l quiet -d 'Print nothing but errors'
complete -c ingest -n "__fish_ingest_using_subcommand trash; and __fish_seen_subcommand_from ls" -s h -l help -d 'Print help'
complete -c ingest -n "__fish_ingest_using_subcommand trash; and __fish_seen_subcommand_from restore" -l spool -d 'S3 stores: where inputs over 64 KiB wait, hashed, for their upload (smaller ones wait in memory). Default: the cache folder ($XDG_CACHE_HOME/ingest, else ~/.cache/ingest)' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand trash; and __fish_seen_subcommand_from restore" -l progress -d 'When to draw progress bars on stderr (auto: only on a terminal)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ingest -n "__fish_ingest_using_subcommand trash; and __fish_seen_subcommand_from restore" -l store -d 'The store: a directory, or s3://BUCKET/PREFIX. Default: $XDG_DATA_HOME/ingest, else ~/.local/share/ingest' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand trash; and __fish_seen_subcommand_from restore" -l s3-addressing -d 'S3 stores: path-style (endpoint/bucket/key) or virtual-hosted (bucket.endpoint/key) requests. Default: path with AWS_ENDPOINT_URL, else virtual' -r -f -a "path\t''
virtual\t''"
complete -c ingest -n "__fish_ingest_using_subcommand trash; and __fish_seen_subcommand_from restore" -l wait-lock -d 'How long to wait for another ingest\'s lock on the store before giving up (exit 1)' -r
complete -c ingest -n "__fish_ingest_using_subcommand trash; and __fish_seen_subcommand_from restore" -l all -d 'Every trashed entry'
complete -c ingest -n "__fish_ingest_using_subcommand trash; and __fish_seen_subcommand_from restore" -l json -d 'trash ls: each trashed entry\'s manifest line (JSON), when it was trashed and its id first.'
complete -c ingest -n "__fish_ingest_using_subcommand trash; and __fish_seen_subcommand_from restore" -s q -l quiet -d 'Print nothing but errors'
complete -c ingest -n "__fish_ingest_using_subcommand trash; and __fish_seen_subcommand_from restore" -s h -l help -d 'Print help'
complete -c ingest -n "__fish_ingest_using_subcommand trash; and __fish_seen_subcommand_from empty" -l older-than -d 'Only what was trashed more than AGE ago (7d, 1mo)' -r
complete -c ingest -n "__fish_ingest_using_subcommand trash; and __fish_seen_subcommand_from empty" -l spool -d 'S3 stores: where inputs over 64 KiB wait, hashed, for their upload (smaller ones wait in memory). Default: the cache folder ($XDG_CACHE_HOME/ingest, else ~/.cache/ingest)' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand trash; and __fish_seen_subcommand_from empty" -l progress -d 'When to draw progress bars on stderr (auto: only on a terminal)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c ingest -n "__fish_ingest_using_subcommand trash; and __fish_seen_subcommand_from empty" -l store -d 'The store: a directory, or s3://BUCKET/PREFIX. Default: $XDG_DATA_HOME/ingest, else ~/.local/share/ingest' -r -F
complete -c ingest -n "__fish_ingest_using_subcommand trash; and __fish_seen_subcommand_from empty" -l s3-addressing -d 'S3 stores: path-style (endpoint/bucket/key) or virtual-hosted (bucket.endpoint/key) requests. Default: path with AWS_ENDPOINT_URL, else virtual' -r -f -a "path\t''
virtual\t''"
complete -c ingest -n "__fish_ingest_using_subcommand trash; and __fish_seen_subcommand_from empty" -l wait-lock -d 'How long to wait for another ingest\'s lock on the store before giving up (exit 1)' -r
complete -c ingest -n "__fish_ingest_using_subcommand trash; and __fish_seen_subcommand_from empty" -l json -d 'trash ls: each trashed entry\'s manifest line (JSON), when it was trashed and its id first.'
complete -c ingest -n "__fish_ingest_using_subcommand trash; and __fish_seen_subcommand_from empty" -s q -l quiet -d 'Print nothing but errors'
complete -c ingest -n "__fish_ingest_using_subcommand trash; and __fish_seen_subcommand_from empty" -s h -l help -d 'Print help'
complete -c ingest -n "__fish_ingest_using_subcommand trash; and __fish_seen_subcommand_from help" -f -a "ls" -d 'List the trashed entries, oldest removal first; with --json one object per entry (its id, and when it was removed)'
complete -c ingest -n "__fish_ingest_using_subcommand trash; and __fish_seen_subcommand_from help" -f -a "restore" -d 'Put entries back: these ids, or every one with --all. An entry whose object is gone stays in the trash (exit 1)'
complete -c ingest -n "__fish_ingest_using_subcommand trash; and __fish_seen_subcommand_from help" -f -a "empty" -d 'Remove trashed entries for good, and the objects nothing else names: these ids, those removed more than --older-than ago, or all'
complete -c ingest -n "__fish_ingest_using_subcommand trash; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ingest -n "__fish_ingest_using_subcommand help; and not __fish_seen_subcommand_from add mms ls cat rm export verify gc stats copy serve token block uploads trash help" -f -a "add" -d 'Store files, or standard input given as `-` (the default command)'
complete -c ingest -n "__fish_ingest_using_subcommand help; and not __fish_seen_subcommand_from add mms ls cat rm export verify gc stats copy serve token block uploads trash help" -f -a "mms" -d 'Store every attachment in SMS Backup & Restore backups (XML, or gzip-compressed XML), streaming, in constant memory'
complete -c ingest -n "__fish_ingest_using_subcommand help; and not __fish_seen_subcommand_from add mms ls cat rm export verify gc stats copy serve token block uploads trash help" -f -a "ls" -d 'List the manifest\'s entries, oldest first'
complete -c ingest -n "__fish_ingest_using_subcommand help; and not __fish_seen_subcommand_from add mms ls cat rm export verify gc stats copy serve token block uploads trash help" -f -a "cat" -d 'Write an object to standard output, checking its hash as it goes'
complete -c ingest -n "__fish_ingest_using_subcommand help; and not __fish_seen_subcommand_from add mms ls cat rm export verify gc stats copy serve token block uploads trash help" -f -a "rm" -d 'Remove entries from the manifest, then the objects no remaining entry (nor the trash) names. Entries are picked by hash (or a unique prefix of 6+ hex digits), by id and by the filters of `ls`; at least one must be given. Prints each entry removed. Writers wait while it runs, and a crash leaves the store as it was before or after, never between'
complete -c ingest -n "__fish_ingest_using_subcommand help; and not __fish_seen_subcommand_from add mms ls cat rm export verify gc stats copy serve token block uploads trash help" -f -a "export" -d 'Write entries into DEST under their recorded names, made safe'
complete -c ingest -n "__fish_ingest_using_subcommand help; and not __fish_seen_subcommand_from add mms ls cat rm export verify gc stats copy serve token block uploads trash help" -f -a "verify" -d 'Check the store: re-hash every object, match the manifest against the objects, find orphans and leftovers. Exit 0 when clean, 1 otherwise'
complete -c ingest -n "__fish_ingest_using_subcommand help; and not __fish_seen_subcommand_from add mms ls cat rm export verify gc stats copy serve token block uploads trash help" -f -a "gc" -d 'Remove temp files left by crashed runs (older than an hour), with --orphans the objects no manifest line names, and on S3 the multipart uploads never completed (older than a day)'
complete -c ingest -n "__fish_ingest_using_subcommand help; and not __fish_seen_subcommand_from add mms ls cat rm export verify gc stats copy serve token block uploads trash help" -f -a "stats" -d 'Count objects, bytes, entries, what deduplication saved, and types'
complete -c ingest -n "__fish_ingest_using_subcommand help; and not __fish_seen_subcommand_from add mms ls cat rm export verify gc stats copy serve token block uploads trash help" -f -a "copy" -d 'Copy the store SRC into DEST (each a directory or s3://BUCKET/PREFIX), object by object, checking each hash, skipping what DEST has; then the manifest entries. How a store moves to a bucket, or back'
complete -c ingest -n "__fish_ingest_using_subcommand help; and not __fish_seen_subcommand_from add mms ls cat rm export verify gc stats copy serve token block uploads trash help" -f -a "serve" -d 'Serve the store over HTTP: uploads go through the same pass as `ingest add` (hash, sniff, policy, clamd, fsync, manifest), and entries and objects can be read back. Every endpoint but /v1/health needs a token (`ingest token add NAME`)'
complete -c ingest -n "__fish_ingest_using_subcommand help; and not __fish_seen_subcommand_from add mms ls cat rm export verify gc stats copy serve token block uploads trash help" -f -a "token" -d 'Manage the tokens `ingest serve` accepts'
complete -c ingest -n "__fish_ingest_using_subcommand help; and not __fish_seen_subcommand_from add mms ls cat rm export verify gc stats copy serve token block uploads trash help" -f -a "block" -d 'Manage the store\'s block list: bytes every front end refuses (`blocked` in the store\'s config.json; `ingest rm --block` adds to it)'
complete -c ingest -n "__fish_ingest_using_subcommand help; and not __fish_seen_subcommand_from add mms ls cat rm export verify gc stats copy serve token block uploads trash help" -f -a "uploads" -d 'The resumable (tus) uploads under way on this machine\'s server: token, name, bytes so far of the whole, and how long idle. `gc` removes those untouched for a day (`serve --partial-expiry`)'
complete -c ingest -n "__fish_ingest_using_subcommand help; and not __fish_seen_subcommand_from add mms ls cat rm export verify gc stats copy serve token block uploads trash help" -f -a "trash" -d 'What was removed to the trash (by the page, the API or `rm --trash`): list it, restore from it, empty it. `gc` empties what is older than the store\'s `trash_days` (30 by default)'
complete -c ingest -n "__fish_ingest_using_subcommand help; and not __fish_seen_subcommand_from add mms ls cat rm export verify gc stats copy serve token block uploads trash help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ingest -n "__fish_ingest_using_subcommand help; and __fish_seen_subcommand_from token" -f -a "add" -d 'Make a token and print it, once, alone on standard output; only its hash is kept, beside the store'
complete -c ingest -n "__fish_ingest_using_subcommand help; and __fish_seen_subcommand_from token" -f -a "ls" -d 'List the tokens by name, scope and date (never their text); with --json one object per token'
complete -c ingest -n "__fish_ingest_using_subcommand help; and __fish_seen_subcommand_from token" -f -a "rm" -d 'Remove a token: requests with it are refused from then on'
complete -c ingest -n "__fish_ingest_using_subcommand help; and __fish_seen_subcommand_from block" -f -a "ls" -d 'List the blocked hashes, one per line'
complete -c ingest -n "__fish_ingest_using_subcommand help; and __fish_seen_subcommand_from block" -f -a "add" -d 'Block these SHA-256 hashes (64 hex digits each), and those in FILE (one per line, `sha256sum` lines too; `-` reads standard input)'
complete -c ingest -n "__fish_ingest_using_subcommand help; and __fish_seen_subcommand_from block" -f -a "rm" -d 'Let these bytes in again'
complete -c ingest -n "__fish_ingest_using_subcommand help; and __fish_seen_subcommand_from uploads" -f -a "ls" -d 'List them; with --json one object per upload'
complete -c ingest -n "__fish_ingest_using_subcommand help; and __fish_seen_subcommand_from trash" -f -a "ls" -d 'List the trashed entries, oldest removal first; with --json one object per entry (its id, and when it was removed)'
complete -c ingest -n "__fish_ingest_using_subcommand help; and __fish_seen_subcommand_from trash" -f -a "restore" -d 'Put entries back: these ids, or every one with --all. An entry whose object is gone stays in the trash (exit 1)'
complete -c ingest -n "__fish_ingest_using_subcommand help; and __fish_seen_subcommand_from trash" -f -a "empty" -d 'Remove trashed entries for good, and the objects nothing else names: these ids, those removed more than --older-than ago, or all'
