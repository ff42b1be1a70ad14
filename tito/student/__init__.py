"""What students run: in their notebooks (the magics, the checks of the test cells, the datasets)
and from a terminal (`tito test`, `tito status`, `tito doctor`, `tito lab`, `tito milestone`)."""
