"""python3 -m actmap: actmap's batch commands on a Dask cluster (actmap.distributed).

    python3 -m actmap render-seeds SESSION --seeds A-B -o DIR/ --scheduler tcp://HOST:8786
    python3 -m actmap animate SESSION --param /edits/0/params/degrees --from 0 --to 360 --frames 120 -o spin.mp4
    python3 -m actmap info

Without --scheduler a local cluster of --workers processes runs on this machine. The outputs are
those of actmap-cli render --seeds and actmap-cli animate, byte for byte. actmap-cli's --dask
option runs these commands.
"""
import argparse
import os
import sys
import time


def _client(args):
    from distributed import Client, LocalCluster
    if args.scheduler:
        return Client(args.scheduler), None
    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=args.worker_threads, processes=True,
                           dashboard_address=None)
    return Client(cluster), cluster


def _add_cluster_options(p):
    p.add_argument("--scheduler", help="address of a running Dask scheduler (tcp://HOST:8786); default: a local cluster")
    p.add_argument("--workers", type=int, default=2, help="local cluster: worker processes (default 2)")
    p.add_argument("--worker-threads", type=int, default=1, help="local cluster: threads per worker (default 1)")
    p.add_argument("--threads", type=int, default=None, help="LibTorch threads per task (default 1)")
    p.add_argument("--chunk", type=int, default=None, help="seeds or frames per task (default: about 4 tasks per worker thread)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N on the workers")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python3 -m actmap", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("render-seeds", help="a session's edits on each seed: DIR/seed-N.png and DIR/contact-sheet.png")
    r.add_argument("session")
    r.add_argument("--seeds", required=True, help="A-B (inclusive) or N")
    r.add_argument("-o", "--out", required=True, help="the output folder (shared by the workers)")
    r.add_argument("--no-sheet", action="store_true", help="no contact-sheet.png")
    _add_cluster_options(r)
    a = sub.add_parser("animate", help="an animation's frames on the workers, the video assembled here")
    a.add_argument("session")
    a.add_argument("--param", help="JSON pointer of the number to sweep")
    a.add_argument("--from", dest="start", type=float)
    a.add_argument("--to", dest="stop", type=float)
    a.add_argument("--seed-walk", help="A,B,...: walk the latent through these seeds")
    a.add_argument("--frames", type=int, default=60)
    a.add_argument("--fps", type=float, default=30.0)
    a.add_argument("--scale", type=int, default=1)
    a.add_argument("-o", "--out", required=True, help="OUT.mp4, OUT.gif or a folder for frame-NNNN.png")
    _add_cluster_options(a)
    sub.add_parser("info", help="where this actmap module is, and its version")
    args = parser.parse_args(argv)

    import actmap
    if args.command == "info":
        print(f"actmap {actmap.__version__} at {os.path.dirname(actmap.__file__)}")
        return 0
    import actmap.distributed as ad
    try:
        if args.command == "render-seeds":
            ad.parse_seeds(args.seeds)
            actmap.Session.load(args.session, device=args.device)  # fails here, before a cluster starts
        else:
            actmap.Session.load(args.session, device=args.device)
        client, cluster = _client(args)
        try:
            t0 = time.perf_counter()
            if args.command == "render-seeds":
                s = ad.render_seeds(args.session, args.seeds, args.out, client, sheet=not args.no_sheet, chunk=args.chunk,
                                    threads=args.threads, device=args.device)
                print(f"wrote {s['images']} images to {s['out_dir']}/ in {time.perf_counter() - t0:.2f} s "
                      f"({s['tasks']} tasks on {len(s['workers'])} workers)")
                if s["sheet"]:
                    print(f"wrote {s['sheet']}")
            else:
                walk = [int(x) for x in args.seed_walk.split(",")] if args.seed_walk else None
                s = ad.render_animation(args.session, args.out, client, frames=args.frames, param=args.param,
                                        start=args.start, stop=args.stop, seed_walk=walk, fps=args.fps, scale=args.scale,
                                        chunk=args.chunk, threads=args.threads, device=args.device)
                print(f"wrote {s['out']}: {s['frames']} frames in {time.perf_counter() - t0:.2f} s "
                      f"({s['tasks']} tasks on {len(s['workers'])} workers)")
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    except actmap.Error as e:
        print(f"python3 -m actmap: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
