// The console's only script: "copy" buttons (data-copy = the id of the field to copy). Without it the
// field is still there to select by hand.
document.addEventListener('click', (event) => {
  const button = event.target instanceof Element ? event.target.closest('[data-copy]') : null;
  if (!button) return;
  const field = document.getElementById(button.getAttribute('data-copy'));
  if (!field) return;
  field.select();
  const done = () => {
    button.textContent = button.getAttribute('data-copied') || button.textContent;
  };
  if (navigator.clipboard)
    navigator.clipboard.writeText(field.value).then(done, () => document.execCommand('copy') && done());
  else if (document.execCommand('copy')) done();
});
