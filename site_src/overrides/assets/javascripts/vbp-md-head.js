// Material for MkDocs 9.8 partials/javascripts/base.html, moved out of the page so the
// Content-Security-Policy can forbid inline scripts. Material computed the scope from
// base_url; this file lives at <site root>/assets/javascripts/, so the site root is "../..".
__md_scope=new URL("../..",document.currentScript.src),__md_hash=e=>[...e].reduce(((e,_)=>(e<<5)-e+_.charCodeAt(0)),0),__md_get=(e,_=localStorage,t=__md_scope)=>JSON.parse(_.getItem(t.pathname+"."+e)),__md_set=(e,_,t=localStorage,a=__md_scope)=>{try{t.setItem(a.pathname+"."+e,JSON.stringify(_))}catch(e){}}
